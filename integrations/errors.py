"""Typed provider errors: retryable or not, never carrying the API key or an address."""

from __future__ import annotations

import re

#: An e-mail address as it shows up in error texts: plain, percent-encoded once (a URL path,
#: ``erase.me%40example.com``) or twice (``%2540``), in either case. A ``/`` ends the local
#: part (allowed there by RFC 5322, but in error texts it is a path separator).
_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$&'*+=?^_`{|}~%-]+(?:@|%40|%2540)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+",
    re.IGNORECASE,
)
REDACTED = "<address>"


def redact(text: str) -> str:
    """Replace every e-mail address in ``text`` (plain or percent-encoded) with ``<address>``.

    The one function every stored or shown error text goes through (issue 11, finding 5): an
    error about an erased person's address must not keep the address alive in the outbox's
    ``last_error``, a sync report or the integrations page.
    """
    return _ADDRESS.sub(REDACTED, text)


class IntegrationError(Exception):
    """Something went wrong talking to a provider. The message never holds an address."""

    retryable = False

    def __init__(self, message: str = "", *args: object) -> None:
        super().__init__(redact(str(message)), *args)


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
        # providers echo the address in their answers ("x@y.se is already a list member")
        title, detail = redact(title), redact(detail)
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
