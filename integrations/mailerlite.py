"""MailerLite (the new API at connect.mailerlite.com; not the legacy v2).

Pitfalls handled (shared/docs/providers.md section 1): ids are strings; upserts never send a
status, because only the app itself may reactivate an unsubscribed address; erasure is
``forget`` on the id (GET by email first), not DELETE, which keeps the data; the list has no
"since" filter, so the full status lists are scanned and filtered here; batches hold at most
50 requests and report each item's status inside a 200.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import Any
from urllib.parse import quote

from integrations.base import ProviderAdapter
from integrations.base import Window
from integrations.base import header_bytes
from integrations.base import secret_matches
from integrations.errors import ProviderRejected
from integrations.errors import WebhookRejected
from integrations.types import BatchResult
from integrations.types import Contact
from integrations.types import ContactEvent
from integrations.types import EventType
from integrations.types import parse_iso

UNSUB_FIELD = "crm_unsubscribe_url"


def is_import(method: str, path: str, body: Any) -> bool:
    """A /batch made only of ``POST api/subscribers``, which MailerLite runs as an import.

    developers.mailerlite.com/api/batching, "Rate limits": such a batch "is subject to a
    separate 5 requests per minute rate limit, in addition to the global API rate limit".
    """
    if method != "POST" or path.strip("/") != "batch" or not isinstance(body, dict):
        return False
    items = body.get("requests")
    return (
        isinstance(items, list)
        and bool(items)
        and all(
            isinstance(r, dict) and r.get("method") == "POST" and r.get("path") == "api/subscribers"
            for r in items
        )
    )


def _time(value: Any) -> datetime | None:
    """A MailerLite time: "yyyy-MM-dd HH:mm:ss" (UTC) in listings, ISO-8601 in webhooks.

    Webhook payloads carry e.g. ``"2022-07-28T12:24:27.000000Z"``
    (https://developers.mailerlite.com/docs/webhooks); the listing format keeps its old
    reading exactly, so events pulled before stay deduplicated.
    """
    if not value:
        return None
    try:
        return datetime.strptime(str(value)[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        pass
    when = parse_iso(value)
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


class MailerLiteAdapter(ProviderAdapter):
    """MailerLite connect API."""

    name = "mailerlite"
    display_name = "MailerLite"
    DEFAULT_BASE_URL = "https://connect.mailerlite.com/api"
    LIST_SETTING = "GROUP_ID"
    BATCH_SIZE = 50
    # developers.mailerlite.com/getting-started ("Rate limits"): 120 requests a minute, a 429
    # with Retry-After beyond it; /api/batching: imports (see is_import) 5 a minute, whose 429
    # carries no Retry-After - so a 429 without one waits the minute out. Whether a batch
    # counts once against the 120 is not documented; it is counted once here, and the SDK's
    # recorded batch answer (mailerlite-python tests/vcr_cassettes/batches-request.yml,
    # x-ratelimit-remaining 118) does not contradict that.
    LIMITS = (Window(120, 60.0), Window(5, 60.0, is_import))
    RATE_LIMIT_WAIT = 60.0
    EVENT_TYPES = {
        "unsubscribed": EventType.UNSUBSCRIBED,
        "bounced": EventType.BOUNCED,
        "junk": EventType.COMPLAINED,
        "subscriber.unsubscribed": EventType.UNSUBSCRIBED,
        "subscriber.bounced": EventType.BOUNCED,
        "subscriber.spam_reported": EventType.COMPLAINED,
        "spam.subscriber.spam_reported": EventType.COMPLAINED,
        "subscriber.deleted": EventType.DELETED,
        "subscriber.created": EventType.SUBSCRIBED,
    }

    def _auth(self) -> dict[str, Any]:
        return {
            "headers": {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        }

    def _batch(self, bodies: list[dict[str, Any]], emails: list[str]) -> BatchResult:
        """Send one /batch of ``POST api/subscribers`` and read each item's own status."""
        result = BatchResult()
        requests_ = [{"method": "POST", "path": "api/subscribers", "body": b} for b in bodies]
        response = self._request("POST", "batch", json={"requests": requests_})
        body = self._json(response)
        answers = body.get("responses") if isinstance(body, dict) else None
        if not isinstance(answers, list) or len(answers) != len(emails):
            raise ProviderRejected(response.status_code, "unexpected batch response")
        for email, answer in zip(emails, answers, strict=True):
            code = answer.get("code") if isinstance(answer, dict) else None
            if code in (200, 201):
                result.succeeded.append(email)
                data = (answer.get("body") or {}).get("data") or {}
                if data.get("id"):
                    result.ids[email] = str(data["id"])
            else:
                result.failed[email] = f"{code}: {json.dumps(answer.get('body'))[:200]}"
        return result

    def upsert(self, contacts: Sequence[Contact]) -> BatchResult:
        """POST each subscriber into the group, without a status (no resubscribing)."""

        def send(chunk: list[Contact]) -> BatchResult:
            bodies = [
                {
                    "email": c.email,
                    "groups": [self.list_id],
                    "fields": {"name": c.name, UNSUB_FIELD: c.unsubscribe_url},
                }
                for c in chunk
            ]
            return self._batch(bodies, [c.email for c in chunk])

        return self._in_batches(contacts, send)

    def unsubscribe(self, emails: Sequence[str]) -> BatchResult:
        """POST each address with status "unsubscribed" (upsert semantics)."""
        return self._in_batches(
            emails,
            lambda chunk: self._batch(
                [{"email": e, "status": "unsubscribed"} for e in chunk], chunk
            ),
        )

    def remove(self, emails: Sequence[str]) -> BatchResult:
        """Unassign from the group (the subscriber and their status stay)."""
        out = BatchResult()
        for email in emails:
            found = self._request(
                "GET", f"subscribers/{quote(email, safe='')}", expected=(200, 404)
            )
            if found.status_code == 200:
                sid = str((self._json(found).get("data") or {}).get("id") or "")
                if sid:
                    self._request(
                        "DELETE", f"subscribers/{sid}/groups/{self.list_id}", expected=(204, 404)
                    )
            out.succeeded.append(email)
        return out

    def erase(self, email: str) -> None:
        """Resolve the id, then ``forget`` (DELETE would keep the data)."""
        found = self._request("GET", f"subscribers/{quote(email, safe='')}", expected=(200, 404))
        if found.status_code == 404:
            return  # unknown or already forgotten
        subscriber_id = str((self._json(found).get("data") or {}).get("id") or "")
        if not subscriber_id:
            return
        self._request("POST", f"subscribers/{subscriber_id}/forget", expected=(200, 404))

    def check(self) -> str:
        """List one subscriber of the group: a wrong key answers 401, an unknown group 404.

        ``GET /api/groups/{group_id}/subscribers`` (providers.md section 1, "Group listing",
        from mailerlite-python's groups.py; developers.mailerlite.com/docs/groups). MailerLite
        has no read of one group by id, and this call needs the key and the group both.
        """
        self._request(
            "GET", f"groups/{quote(self.list_id, safe='')}/subscribers", params={"limit": 1}
        )
        return ""

    def fetch_events(self, since: datetime | None) -> list[ContactEvent]:
        """Scan unsubscribed, bounced and junk subscribers; keep those changed since ``since``."""
        events = []
        for status in ("unsubscribed", "bounced", "junk"):
            cursor = None
            while True:
                params = {"filter[status]": status, "limit": 1000}
                if cursor:
                    params["cursor"] = cursor
                body = self._json(self._request("GET", "subscribers", params=params))
                for item in body.get("data") or []:
                    when = _time(item.get("unsubscribed_at") or item.get("updated_at"))
                    if since is not None and when is not None and when < since:
                        continue
                    events.append(
                        ContactEvent(
                            self.name,
                            str(item.get("email", "")).lower(),
                            self._event_type(status),
                            when,
                            raw=item,
                        )
                    )
                cursor = (body.get("meta") or {}).get("next_cursor")
                if not cursor:
                    break
        return events

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], secret: str
    ) -> list[ContactEvent]:
        """Check ``Signature`` (HMAC-SHA256 of the raw body) in constant time, then read.

        Two shapes (https://developers.mailerlite.com/docs/webhooks): a single delivery is
        the subscriber itself plus ``event``; a batched one (``batchable: true``, the only way
        ``subscriber.deleted`` is sent) is ``{"events": [{"type", "subscriber"}], "total"}``.
        The ``id`` in either is the subscriber's, so an event is identified by its type, the
        subscriber and its time - never by the id alone.
        """
        expected = hmac.new(str(secret).encode(), body, hashlib.sha256).hexdigest()
        if not secret_matches(header_bytes(headers.get("Signature", "")), expected):
            raise WebhookRejected("bad signature")
        try:
            payload = json.loads(body)
        except ValueError as err:
            raise WebhookRejected("not JSON") from err
        if isinstance(payload, dict) and isinstance(payload.get("events"), list):
            items = payload["events"]
        else:
            items = payload if isinstance(payload, list) else [payload]
        events = []
        for item in items:
            if not isinstance(item, dict):
                continue
            subscriber = _subscriber(item)
            email = str(subscriber.get("email") or "").lower()
            if not email:
                continue
            kind = str(item.get("type") or item.get("event") or "")
            when = _event_time(kind, subscriber)
            who = str(subscriber.get("id") or email)
            events.append(
                ContactEvent(
                    self.name,
                    email,
                    self._event_type(kind),
                    when,
                    provider_event_id=f"{kind}:{who}:{when.isoformat() if when else ''}",
                    raw=item,
                )
            )
        return events


def _subscriber(item: dict[str, Any]) -> dict[str, Any]:
    """The subscriber of one webhook event, whichever envelope carried it."""
    for key in ("subscriber", "data"):  # batched events; "data" as older payloads had it
        candidate = item.get(key)
        if isinstance(candidate, dict):
            inner = candidate.get("subscriber")
            return inner if isinstance(inner, dict) else candidate
    return item


def _event_time(kind: str, subscriber: dict[str, Any]) -> datetime | None:
    """When the event happened: the matching subscriber time, else its last update."""
    specific = {
        "subscriber.unsubscribed": "unsubscribed_at",
        "subscriber.deleted": "deleted_at",
        "subscriber.created": "created_at",
    }.get(kind)
    for value in (
        subscriber.get(specific) if specific else None,
        subscriber.get("updated_at"),
        subscriber.get("created_at"),
    ):
        when = _time(value)
        if when is not None:
            return when
    return None
