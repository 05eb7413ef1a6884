"""The adapter contract and the single place that touches the network."""

from __future__ import annotations

import hmac
import re
import threading
import time
from abc import ABC
from abc import abstractmethod
from collections import deque
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import ClassVar
from typing import Self

import requests

from integrations.errors import BadProviderResponse
from integrations.errors import ProviderRejected
from integrations.errors import ProviderUnavailable
from integrations.errors import RateLimited
from integrations.errors import Throttled
from integrations.errors import WebhookRejected
from integrations.types import BatchResult
from integrations.types import Contact
from integrations.types import ContactEvent
from integrations.types import EventType


def secret_matches(given: str | bytes, expected: str) -> bool:
    """Compare a webhook's signature or token with the expected one in constant time.

    As bytes: ``hmac.compare_digest`` refuses ``str`` holding anything but ASCII with a
    TypeError, and the given value is whatever a caller put in a header or the query string.
    A ``str`` (a query argument, which Werkzeug decodes as UTF-8) is compared as UTF-8;
    pass a header through :func:`header_bytes`. ``surrogatepass``: no string makes it fail.
    """
    if isinstance(given, str):
        given = given.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(given, expected.encode("utf-8", "surrogatepass"))


def header_bytes(value: str) -> bytes:
    """Return the bytes a caller sent in a header, so they compare with a UTF-8 secret.

    WSGI hands header values over as ISO-8859-1-decoded ``str`` (PEP 3333, "Unicode
    Issues": https://peps.python.org/pep-3333/#unicode-issues), so encoding them back gives
    the original bytes. A test client may put any ``str`` there: that falls back to UTF-8.
    """
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


#: Statuses worth retrying: rate limits, "too early" (Brevo 425) and server trouble.
RETRYABLE = {425, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 120.0
#: headers in which a provider names how long to wait (Brevo's: seconds to its window's reset)
WAIT_HEADERS = ("Retry-After", "x-sib-ratelimit-reset")


def _every_request(method: str, path: str, body: Any) -> bool:
    return True


@dataclass(frozen=True)
class Window:
    """A published rate limit: at most ``calls`` requests in any ``seconds``.

    ``applies(method, path, json_body)`` picks the requests it counts (all by default), so a
    provider with per-endpoint limits (Brevo) or a second, lower limit for some requests
    (MailerLite's imports) lists several windows.
    """

    calls: int
    seconds: float
    applies: Callable[[str, str, Any], bool] = _every_request


_WORD = re.compile(r"[A-Za-z_-]+")


def endpoint(path: str) -> str:
    """A request path fit for an error text: words kept, every id, hash or address a ``*``.

    ``contacts/erase.me%40example.com`` becomes ``contacts/*`` and Mailchimp's
    ``lists/7/members/<md5 of the address>/actions/delete-permanent`` becomes
    ``lists/*/members/*/actions/delete-permanent``: the endpoint is still recognisable, but no
    error names whom it was about (issue 11, finding 5).
    """
    return "/".join(
        part if _WORD.fullmatch(part) else "*" for part in path.split("?")[0].strip("/").split("/")
    )


class ProviderAdapter(ABC):
    """One provider. Subclasses implement the operations with :meth:`_request` only."""

    name: ClassVar[str]
    #: the provider's own spelling of its name, for pages and the processors register
    display_name: ClassVar[str]
    DEFAULT_BASE_URL: ClassVar[str]
    #: the setting naming the audience: GROUP_ID (MailerLite) or LIST_ID
    LIST_SETTING: ClassVar[str] = "LIST_ID"
    #: the settings holding the credentials (joined with ":" into ``api_key``)
    KEY_SETTINGS: ClassVar[tuple[str, ...]] = ("API_KEY",)
    #: operations the provider's API cannot do: they raise OperationNotSupported and become
    #: manual tasks (shown on the integrations page)
    MANUAL_OPERATIONS: ClassVar[tuple[str, ...]] = ()
    BATCH_SIZE: ClassVar[int]
    #: the provider's published rate limits, kept on the client side so that a large sync
    #: paces itself instead of collecting 429s
    LIMITS: ClassVar[tuple[Window, ...]] = ()
    #: how long to wait after a 429 that names no time (no Retry-After or reset header):
    #: None backs off exponentially; a provider whose limit is a window waits for the window
    RATE_LIMIT_WAIT: ClassVar[float | None] = None
    #: most requests in flight at once (Mailchimp allows 10 connections per key)
    MAX_CONCURRENCY: ClassVar[int] = 10
    EVENT_TYPES: ClassVar[Mapping[str, EventType]] = {}

    def __init__(
        self,
        api_key: str,
        list_id: str,
        base_url: str | None = None,
        *,
        timeout: float = 15.0,
        max_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.api_key, self.list_id = api_key, list_id
        self.base_url = (base_url or self.default_base_url()).rstrip("/")
        self.timeout, self.max_retries, self._sleep = timeout, max_retries, sleep
        self._session = session or requests.Session()
        self._owns_session = session is None
        self._slots = threading.BoundedSemaphore(self.MAX_CONCURRENCY)
        self._clock = clock or time.monotonic
        #: waits the injected ``sleep`` did not really take (tests pass one that returns at
        #: once): added to the clock, so pacing and budgets still see the time as passed
        self._skew = 0.0
        self._sent: list[deque[float]] = [deque() for _ in self.LIMITS]
        self._pacing = threading.Lock()
        #: longest wait for a rate limit this adapter may sit out itself; None waits as long
        #: as the provider asks. With a lower value, a request that would have to wait longer
        #: raises Throttled (nothing sent) or RateLimited (the provider answered 429), so the
        #: caller can do other work meanwhile (crm/sync/runner.py's lanes set 0).
        self.patience: float | None = None
        #: HTTP calls made (for the sync report and the call-count benchmark)
        self.calls = 0

    def default_base_url(self) -> str:
        """The real service's address."""
        return self.DEFAULT_BASE_URL

    # --- the contract -------------------------------------------------------------------------

    @abstractmethod
    def upsert(self, contacts: Sequence[Contact]) -> BatchResult:
        """Add or update subscribers in the list, never resubscribing anyone who left."""

    @abstractmethod
    def unsubscribe(self, emails: Sequence[str]) -> BatchResult:
        """Mark addresses unsubscribed."""

    @abstractmethod
    def remove(self, emails: Sequence[str]) -> BatchResult:
        """Take addresses out of the audience without unsubscribing them (Art. 18 restriction).

        Unlike an unsubscribe this can be undone: a later upsert brings them back.
        """

    @abstractmethod
    def erase(self, email: str) -> None:
        """Erase an address for good (GDPR); an unknown or already erased address is fine."""

    def unfinished(self, process_ids: Sequence[str]) -> list[str]:
        """Which of the provider's asynchronous writes (``BatchResult.pending``) still run.

        Until one has finished, its addresses do not exist at the provider yet, and an
        unsubscribe or erasure sent for them would be lost or undone when it lands. Providers
        whose writes are synchronous have none.
        """
        return []

    @abstractmethod
    def check(self) -> str:
        """Make one read-only call that proves the key works and the list exists.

        Returns the list's name when the provider tells it ("" otherwise). Raises what
        :meth:`_request` raises: ProviderRejected (401/403: the key; 404: the list),
        RateLimited, ProviderUnavailable. Used by the integrations page's connection test.
        """

    @abstractmethod
    def fetch_events(self, since: datetime | None) -> list[ContactEvent]:
        """Unsubscribes, bounces and complaints since ``since`` (the caller overlaps windows)."""

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], secret: str
    ) -> list[ContactEvent]:
        """Verify and normalise a pushed event; raise WebhookRejected when it is not genuine."""
        raise WebhookRejected(f"{self.name} does not push events")

    @abstractmethod
    def _auth(self) -> dict[str, Any]:
        """Headers or ``auth`` for requests."""

    # --- plumbing -----------------------------------------------------------------------------

    def _in_batches(
        self, items: Sequence[Any], send: Callable[[list[Any]], BatchResult]
    ) -> BatchResult:
        """Send ``items`` in chunks of BATCH_SIZE and merge the outcomes."""
        out = BatchResult()
        for start in range(0, len(items), self.BATCH_SIZE):
            out.merge(send(list(items[start : start + self.BATCH_SIZE])))
        return out

    def now(self) -> float:
        """The adapter's monotonic time in seconds (its clock plus waits not really taken)."""
        return self._clock() + self._skew

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``; what the sleep function did not really wait still counts."""
        if seconds <= 0:
            return
        before = self._clock()
        self._sleep(seconds)
        self._skew += max(0.0, seconds - (self._clock() - before))

    def _pace(self, method: str, path: str, body: Any) -> None:
        """Wait until the request fits every published window it counts against, then count it.

        Raises Throttled instead of waiting longer than ``patience``.
        """
        with self._pacing:
            windows = [
                (w, sent)
                for w, sent in zip(self.LIMITS, self._sent, strict=True)
                if w.applies(method, path, body)
            ]
            if not windows:
                return
            now = self.now()
            delay = 0.0
            for window, sent in windows:
                while sent and sent[0] <= now - window.seconds:
                    sent.popleft()
                if len(sent) >= window.calls:
                    delay = max(delay, sent[len(sent) - window.calls] + window.seconds - now)
            if delay > 0:
                if self.patience is not None and delay > self.patience:
                    raise Throttled(f"{self.name}: rate limit, next slot in {delay:.1f} s", delay)
                self.wait(delay)
                now = self.now()
            for _window, sent in windows:
                sent.append(now)

    def _retry_after(self, response: requests.Response, attempt: int) -> float:
        """Seconds to wait before retrying: what the provider says, else a provider default.

        MailerLite sends Retry-After on its global limit, but nothing on its import limit
        (developers.mailerlite.com/api/batching, "Rate limits"); Brevo sends the seconds to its
        window's reset in x-sib-ratelimit-reset (developers.brevo.com/docs/limit-headers).
        """
        for header in WAIT_HEADERS:
            value = response.headers.get(header)
            if value:
                try:
                    return min(MAX_RETRY_AFTER, max(0.0, float(value)))
                except ValueError:
                    pass
        if response.status_code == 429 and self.RATE_LIMIT_WAIT is not None:
            return self.RATE_LIMIT_WAIT
        return min(MAX_RETRY_AFTER, 2.0**attempt)

    def _request(
        self, method: str, path: str, *, expected: Sequence[int] = (200, 201, 204), **kwargs: Any
    ) -> requests.Response:
        """Send one request with timeout, auth, throttling and retries; map failures to types.

        The only method that touches the network. Retries 425/429/5xx, timeouts and resets
        with backoff (honouring Retry-After and Brevo's reset header); returns a response whose
        status is in ``expected``; raises ProviderRejected for any other status.
        """
        url = f"{self.base_url}/{path.lstrip('/')}"
        kwargs.update(self._auth())
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            self._pace(method, path, kwargs.get("json"))
            try:
                with self._slots:
                    self.calls += 1
                    response = self._session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.RequestException as err:
                last = ProviderUnavailable(
                    f"{self.name}: {type(err).__name__} on {method} {endpoint(path)}"
                )
                last.__cause__ = err
                if attempt < self.max_retries:
                    self.wait(min(MAX_RETRY_AFTER, 2.0**attempt))
                continue
            if response.status_code in expected:
                return response
            if response.status_code in RETRYABLE:
                delay = self._retry_after(response, attempt)
                if response.status_code == 429:
                    named = self.RATE_LIMIT_WAIT is not None or any(
                        response.headers.get(h) for h in WAIT_HEADERS
                    )
                    last = RateLimited(
                        f"{self.name}: 429 on {method} {endpoint(path)}", delay if named else None
                    )
                    if self.patience is not None and delay > self.patience:
                        raise last  # the caller has other work: it comes back after the wait
                else:
                    last = ProviderUnavailable(
                        f"{self.name}: {response.status_code} on {method} {endpoint(path)}"
                    )
                if attempt < self.max_retries:
                    self.wait(delay)
                continue
            raise self._rejected(response)
        assert last is not None
        raise last

    def _rejected(self, response: requests.Response) -> ProviderRejected:
        """Turn a non-retryable error response into ProviderRejected (title from the body)."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        title = str(body.get("title") or body.get("code") or body.get("message") or "error")
        detail = str(body.get("detail") or body.get("message") or "")
        return ProviderRejected(response.status_code, title, detail)

    def _json(self, response: requests.Response) -> Any:
        """Parse a JSON body, or raise BadProviderResponse."""
        try:
            return response.json()
        except ValueError as err:
            raise BadProviderResponse(f"{self.name}: response is not JSON") from err

    def _event_type(self, value: str) -> EventType:
        return self.EVENT_TYPES.get(value, EventType.UNKNOWN)

    def close(self) -> None:
        """Close the HTTP session this adapter opened."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
