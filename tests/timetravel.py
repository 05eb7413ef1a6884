"""Move the app's clock: every ``crm`` module reads the time through ``crm.db.utcnow``.

Modules bind it by name (``from crm.db import utcnow``), so :func:`shift` replaces that name in
each loaded ``crm`` module; a test can then write rows "in the past" (audit rows get their real
hash chain) and run retention "in the future" on the same database, with no sleeping.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest

from crm import db as crm_db

_REAL = crm_db.utcnow


@contextmanager
def frozen(monkeypatch: pytest.MonkeyPatch, when: datetime) -> Iterator[None]:
    """Make every loaded ``crm`` module see ``when`` as the current time, inside the block."""
    with monkeypatch.context() as patch:
        for name, module in list(sys.modules.items()):
            if (name == "crm" or name.startswith("crm.")) and getattr(
                module, "utcnow", None
            ) is _REAL:
                patch.setattr(module, "utcnow", lambda: when)
        yield
