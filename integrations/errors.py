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


class OperationNotSupported(Exception):
    """The provider's API cannot do this operation: a person must do it by hand.

    Deliberately not an IntegrationError: it is neither a failure to retry nor a success. The
    sync turns the operation into a manual task on the dashboard (crm/privacy/recipients.py),
    so nothing is ever reported as done at a provider that did not do it.
    """

    def __init__(self, provider: str, operation: str, reason: str) -> None:
        super().__init__(f"{provider} cannot {operation} through its API: {reason}"[:500])
        self.provider, self.operation, self.reason = provider, operation, reason
