"""Brevo (ex-Sendinblue) API v3.

Pitfalls handled (shared/docs/providers.md section 3): the key goes in an ``api-key`` header;
``/contacts/batch`` only updates existing contacts, so new ones are created through
``/contacts/import`` (asynchronous, one call per batch: the caller holds later operations on
those addresses until the import's process completed) and never with ``emailBlacklist``
false, which could lift a blocklisting; unsubscribing sets ``emailBlacklisted``; erasure is
DELETE, which also drops the blocklist - so the CRM keeps its own suppression entry; contacts
rate limit is 10/s and its reset header is honoured.
"""

from __future__ import annotations

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
from integrations.errors import BadProviderResponse
from integrations.errors import WebhookRejected
from integrations.types import BatchResult
from integrations.types import Contact
from integrations.types import ContactEvent
from integrations.types import EventType
from integrations.types import parse_iso

UNSUB_ATTRIBUTE = "CRM_UNSUBSCRIBE_URL"
PAGE = 1000


def _contacts(method: str, path: str, body: Any) -> bool:
    return path.strip("/").split("/")[0] == "contacts"


def _other(method: str, path: str, body: Any) -> bool:
    return not _contacts(method, path, body)


class BrevoAdapter(ProviderAdapter):
    """Brevo API v3."""

    name = "brevo"
    display_name = "Brevo"
    DEFAULT_BASE_URL = "https://api.brevo.com/v3"
    BATCH_SIZE = 100
    # developers.brevo.com/docs/api-limits, general tier (every plan): all endpoints under
    # /v3/contacts 10 per second and 36,000 per hour, every other endpoint 100 per hour; a
    # 429 beyond them carries x-sib-ratelimit-reset (developers.brevo.com/docs/limit-headers).
    LIMITS = (
        Window(10, 1.0, _contacts),
        Window(36_000, 3600.0, _contacts),
        Window(100, 3600.0, _other),
    )
    EVENT_TYPES = {
        # pulled listings and the webhook registration use camelCase; deliveries of
        # marketing webhooks name their events in snake case (marketing-webhooks doc)
        "unsubscribed": EventType.UNSUBSCRIBED,
        "unsubscribe": EventType.UNSUBSCRIBED,
        "hardBounce": EventType.BOUNCED,
        "hard_bounce": EventType.BOUNCED,
        "spam": EventType.COMPLAINED,
        "contact_deleted": EventType.DELETED,
        "contactDeleted": EventType.DELETED,
        "list_addition": EventType.SUBSCRIBED,
        "listAddition": EventType.SUBSCRIBED,
    }

    def _auth(self) -> dict[str, Any]:
        return {"headers": {"api-key": self.api_key, "Accept": "application/json"}}

    def upsert(self, contacts: Sequence[Contact]) -> BatchResult:
        """Import in batches into the list (creates or updates; never un-blocklists).

        ``POST /contacts/import`` answers 202 with a ``processId`` and creates the contacts
        only when that background process completes (shared/specs/brevo, importContacts and
        getProcess); each batch's process is returned in ``pending``, so the caller holds
        later unsubscribes, erasures and removals of those addresses until it finished.
        ``emailBlacklist`` is not sent: it "blacklists all the contacts" when true, and
        sending false is not documented as leaving an existing blocklisting alone.
        """

        def send(chunk: list[Contact]) -> BatchResult:
            response = self._request(
                "POST",
                "contacts/import",
                expected=(202,),
                json={
                    "jsonBody": [
                        {
                            "email": c.email,
                            "attributes": {"FIRSTNAME": c.name, UNSUB_ATTRIBUTE: c.unsubscribe_url},
                        }
                        for c in chunk
                    ],
                    "listIds": [int(self.list_id)],
                    "updateExistingContacts": True,
                    "emptyContactsAttributes": False,
                },
            )
            body = self._json(response)
            process_id = body.get("processId") if isinstance(body, dict) else None
            if process_id is None:
                raise BadProviderResponse(f"{self.name}: import answered without a processId")
            emails = [c.email for c in chunk]
            return BatchResult(succeeded=emails, pending={str(process_id): emails})

        return self._in_batches(contacts, send)

    def unfinished(self, process_ids: Sequence[str]) -> list[str]:
        """Imports still ``queued`` or ``in_process`` per ``GET /processes/{id}``.

        A process Brevo does not know (404 "processId is invalid", or 400) has nothing left
        to wait for. /processes falls under the 100-requests-an-hour limit of endpoints
        outside /contacts (BR-LIM in shared/docs/providers.md), so the caller asks only when
        an operation is waiting, once per process and run.
        """
        running = []
        for process_id in process_ids:
            response = self._request(
                "GET", f"processes/{quote(process_id, safe='')}", expected=(200, 400, 404)
            )
            if response.status_code != 200:
                continue
            body = self._json(response)
            if isinstance(body, dict) and body.get("status") in ("queued", "in_process"):
                running.append(process_id)
        return running

    def unsubscribe(self, emails: Sequence[str]) -> BatchResult:
        """Blocklist addresses for marketing mail, in batches."""

        def send(chunk: list[str]) -> BatchResult:
            self._request(
                "POST",
                "contacts/batch",
                expected=(204,),
                json={"contacts": [{"email": e, "emailBlacklisted": True} for e in chunk]},
            )
            return BatchResult(succeeded=chunk)

        return self._in_batches(emails, send)

    def remove(self, emails: Sequence[str]) -> BatchResult:
        """Remove from our list, at most 150 addresses a call (the contact stays)."""

        def send(chunk: list[str]) -> BatchResult:
            self._request(
                "POST",
                f"contacts/lists/{self.list_id}/contacts/remove",
                expected=(201, 404),
                json={"emails": chunk},
            )
            return BatchResult(succeeded=chunk)

        out = BatchResult()
        for start in range(0, len(emails), 150):
            out.merge(send(list(emails[start : start + 150])))
        return out

    def erase(self, email: str) -> None:
        """DELETE the contact; unknown counts as done."""
        self._request("DELETE", f"contacts/{quote(email, safe='')}", expected=(204, 404))

    def check(self) -> str:
        """Read the list's details: a wrong key answers 401, an unknown list 404.

        ``GET /contacts/lists/{listId}`` (shared/specs/brevo, operationId ``getList``;
        developers.brevo.com/reference/getlist-1).
        """
        response = self._request("GET", f"contacts/lists/{quote(self.list_id, safe='')}")
        body = self._json(response)
        return str(body.get("name") or "") if isinstance(body, dict) else ""

    def fetch_events(self, since: datetime | None) -> list[ContactEvent]:
        """Contacts modified since ``since`` that are blocklisted or left our list."""
        events = []
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": PAGE, "offset": offset, "sort": "asc"}
            if since is not None:
                params["modifiedSince"] = since.isoformat()
            body = self._json(self._request("GET", "contacts", params=params))
            contacts = body.get("contacts") or []
            for c in contacts:
                left = int(self.list_id) in (c.get("listUnsubscribed") or [])
                if c.get("emailBlacklisted") or left:
                    events.append(
                        ContactEvent(
                            self.name,
                            str(c.get("email", "")).lower(),
                            EventType.UNSUBSCRIBED,
                            parse_iso(c.get("modifiedAt")),
                            raw=c,
                        )
                    )
            offset += len(contacts)
            if not contacts or offset >= int(body.get("count") or 0):
                break
        return events

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], secret: str
    ) -> list[ContactEvent]:
        """Unsigned: the bearer token Brevo was given is the check.

        Marketing webhooks (https://developers.brevo.com/docs/marketing-webhooks): a batched
        delivery is an array; ``id`` is the *webhook's* id, the same on every event, so the
        event is identified by what it says (event, address, time, campaign, lists); times are
        ``ts_event`` (UTC seconds) - ``date_event`` is in the account's local time zone.
        """
        token = headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not secret_matches(header_bytes(token), str(secret)):
            raise WebhookRejected("bad token")
        try:
            payload = json.loads(body)
        except ValueError as err:
            raise WebhookRejected("not JSON") from err
        items = payload if isinstance(payload, list) else [payload]
        events = []
        for item in items:
            if not isinstance(item, dict) or not item.get("email"):
                continue
            email = str(item["email"]).lower()
            kind = str(item.get("event"))
            events.append(
                ContactEvent(
                    self.name,
                    email,
                    self._event_type(kind),
                    _event_time(item),
                    provider_event_id=_event_key(kind, email, item),
                    raw=item,
                )
            )
        return events


def _event_time(item: Mapping[str, Any]) -> datetime | None:
    """When a webhook event happened: ``ts_event`` (or ``ts``), UTC seconds per Brevo's docs.

    ``date_event`` is local to the account's time zone and ``date`` CET/CEST, so they are
    only used as a last resort, through ISO parsing that keeps an offset when one is given.
    """
    for key in ("ts_event", "ts"):
        value = item.get(key)
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            try:
                return datetime.fromtimestamp(float(value), UTC)
            except (OverflowError, OSError, ValueError):
                continue
    return parse_iso(item.get("date_event") or item.get("date"))


def _event_key(kind: str, email: str, item: Mapping[str, Any]) -> str:
    """What identifies one marketing event: never the webhook's ``id`` (the same on all)."""
    parts = [
        kind,
        email,
        item.get("ts_event") or item.get("ts") or item.get("date_event") or item.get("date"),
        item.get("camp_id"),
        item.get("list_id"),
        item.get("message-id") or item.get("message_id"),
    ]
    return "event:" + json.dumps(parts, default=str, sort_keys=True)
