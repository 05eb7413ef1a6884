"""Typed provider errors: retryable or not, never carrying the API key."""

from __future__ import annotations


class IntegrationError(Exception):
    """Something went wrong talking to a provider."""

    retryable = False


class ProviderUnavailable(IntegrationError):
    """Timeout, connection reset, 5xx, 425 or 429 after the retries: try again later."""

    retryable = True


class RateLimited(ProviderUnavailable):
    """429 after the retries; ``retry_after`` is what the provider asked for, if anything."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Throttled(RateLimited):
    """Not sent at all: the provider's published limit would be exceeded for ``retry_after`` s.

    Raised instead of waiting when the caller set the adapter's ``patience`` lower than the
    wait, so a sync can serve another provider (or another lane) in the meantime.
    """


class BadProviderResponse(ProviderUnavailable):
    """A 2xx whose body is not the JSON it should be (retried: it is usually transient)."""


class ProviderRejected(IntegrationError):
    """A 4xx the provider will answer the same way again: not retried."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(f"{status} {title}: {detail}"[:500])
        self.status, self.title, self.detail = status, title, detail


class WebhookRejected(Exception):
    """A webhook call is not genuine (bad signature or token) or cannot be read."""


class IntegrationConfigError(Exception):
    """The provider is not configured correctly.

    Deliberately not an IntegrationError: configuration problems must stop the run, not be
    counted as one provider failing.
    """
