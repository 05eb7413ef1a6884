"""Asynchronous imports a provider has accepted but not yet carried out (Brevo).

Brevo's ``POST /contacts/import`` answers 202 with a ``processId``; the contacts exist only
once ``GET /processes/{id}`` says "completed" (shared/specs/brevo, importContacts and
getProcess). An unsubscribe, erasure or list removal sent before that would find no contact
- and the import, landing afterwards, would put the address back as subscribed. So the
addresses of every unfinished import are remembered (as keyed hashes, the suppression
list's, never in clear) in the provider's state, and the push holds those addresses'
non-upsert operations until the import finished. Held operations stay pending: the run
reports work left, and the next run sends them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Sequence

from sqlalchemy.orm import Session

from crm.newsletter import suppression
from crm.outbox import OutboxOp
from crm.sync.models import ProviderState
from integrations.base import ProviderAdapter
from integrations.errors import IntegrationError

WAITING = "waiting for the provider to finish importing this address first"
#: imports asked about per run although nothing waits for them (Brevo allows 100 requests
#: an hour outside /contacts: BR-LIM in shared/docs/providers.md)
TIDY_PER_RUN = 5


class PendingImports:
    """One provider's unfinished imports during one push."""

    def __init__(self, session: Session, adapter: ProviderAdapter) -> None:
        self.session, self.adapter = session, adapter
        self.state = session.get(ProviderState, adapter.name)
        stored = self.state.pending_imports if self.state else None
        #: process id -> keyed hashes of the addresses it imports
        self.running: dict[str, list[str]] = json.loads(stored) if stored else {}
        #: processes already asked about in this run (the endpoint has a small hourly quota)
        self.asked: set[str] = set()
        self._digest: Callable[[str], str] | None = None

    def _hash(self, email: str) -> str:
        if self._digest is None:
            self._digest = suppression.hasher(self.session)
        return self._digest(email)

    def started(self, pending: dict[str, list[str]]) -> None:
        """Remember imports the provider just accepted (``BatchResult.pending``)."""
        if not pending:
            return
        for process_id, emails in pending.items():
            self.running[process_id] = sorted({self._hash(email) for email in emails})
        self._save()

    def hold(self, ops: Sequence[OutboxOp]) -> list[OutboxOp]:
        """Return the operations free to go; mark those whose address is still importing.

        Only the imports holding one of these addresses are asked about.
        """
        if not self.running:
            return list(ops)
        hashes = {id(op): self._hash(op.email) for op in ops if op.email}
        wanted = set(hashes.values())
        self._ask([pid for pid, digests in self.running.items() if wanted & set(digests)])
        waiting = {digest for digests in self.running.values() for digest in digests}
        free = []
        for op in ops:
            if hashes.get(id(op)) in waiting:
                op.last_error = WAITING  # stays pending and due: the next run tries again
            else:
                free.append(op)
        return free

    def tidy(self, limit: int = TIDY_PER_RUN) -> None:
        """Forget a few finished imports nobody waited for, oldest first, so state stays small."""
        self._ask(list(self.running)[:limit])

    def _ask(self, process_ids: list[str]) -> None:
        """Drop the given imports that finished; each is asked about at most once a run."""
        ask = [pid for pid in process_ids if pid not in self.asked]
        if not ask:
            return
        self.asked.update(ask)
        try:
            still = set(self.adapter.unfinished(ask))
        except IntegrationError:
            return  # cannot tell: keep waiting rather than risk an undo
        for pid in ask:
            if pid not in still:
                del self.running[pid]
        self._save()

    def _save(self) -> None:
        if self.state is None:
            self.state = ProviderState(provider=self.adapter.name)
            self.session.add(self.state)
        self.state.pending_imports = json.dumps(self.running) if self.running else None
