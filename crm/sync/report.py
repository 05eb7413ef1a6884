"""What a sync run did, per provider and as a whole (the CLI, the page and the run log)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field


@dataclass
class ProviderReport:
    """What a run did at one provider."""

    pulled: int = 0
    applied: int = 0
    pushed: int = 0
    failed: int = 0
    pending: int = 0
    #: left pending by a rate limit or the run's budget: not failed, sent by a later run
    deferred: int = 0
    calls: int = 0
    #: operations the provider's API cannot do, handed to staff as dashboard tasks
    manual: int = 0
    error: str = ""


@dataclass
class SyncReport:
    """The whole run; ``ok`` only when nothing failed and nothing is left pending."""

    providers: dict[str, ProviderReport] = field(default_factory=dict)
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """Everything delivered and no provider failed."""
        return all(
            not r.error and r.pending == 0 and r.failed == 0 for r in self.providers.values()
        )
