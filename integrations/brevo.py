"""Brevo (ex-Sendinblue) API v3.

Pitfalls handled (shared/docs/providers.md section 3): the key goes in an ``api-key`` header;
``/contacts/batch`` only updates existing contacts, so new ones are created through
``/contacts/import`` (asynchronous, one call per batch) and never with ``emailBlacklist``
false, which could lift a blocklisting; unsubscribing sets ``emailBlacklisted``; erasure is
DELETE, which also drops the blocklist - so the CRM keeps its own suppression entry; contacts
rate limit is 10/s and its reset header is honoured.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from integrations.base import ProviderAdapter
from integrations.base import Window
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
        "unsubscribed": EventType.UNSUBSCRIBED,
        "hardBounce": EventType.BOUNCED,
        "hard_bounce": EventType.BOUNCED,
        "spam": EventType.COMPLAINED,
        "contact_deleted": EventType.DELETED,
    }

    def _auth(self) -> dict[str, Any]:
        return {"headers": {"api-key": self.api_key, "Accept": "application/json"}}

    def upsert(self, contacts: Sequence[Contact]) -> BatchResult:
        """Import in batches into the list (creates or updates; never un-blocklists)."""

        def send(chunk: list[Contact]) -> BatchResult:
            self._request(
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
            return BatchResult(succeeded=[c.email for c in chunk])

        return self._in_batches(contacts, send)

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
        """Unsigned: the bearer token Brevo was given is the check."""
        token = headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(token, secret):
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
            events.append(
                ContactEvent(
                    self.name,
                    str(item["email"]).lower(),
                    self._event_type(str(item.get("event"))),
                    parse_iso(item.get("date")),
                    provider_event_id=str(item["id"]) if item.get("id") else None,
                    raw=item,
                )
            )
        return events
