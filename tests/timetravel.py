"""Move the app's clock: everything reads the time through ``crm.db.utcnow``.

:func:`frozen` points ``crm.db.clock`` at a fixed moment, so rows written inside the block -
column defaults and audit rows (with their real hash chain) included - carry that time, and
retention can run "years later" on the same database, with no sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest

from crm import db as crm_db


@contextmanager
def frozen(monkeypatch: pytest.MonkeyPatch, when: datetime) -> Iterator[None]:
    """Make the app see ``when`` as the current time inside the block."""
    with monkeypatch.context() as patch:
        patch.setattr(crm_db, "clock", lambda: when)
        yield
