"""Mailchimp Marketing API v3.

Pitfalls handled (shared/docs/providers.md section 2): the data centre comes from the key's
suffix; members are addressed by md5(lower(email)); the batch endpoint ``POST /lists/{id}``
needs ``status`` per member and overwrites existing members' status when ``update_existing``,
so upserts add new members only and update existing ones with PUT and ``status_if_new``
(nobody who left is resubscribed); it takes up to 500 members and reports per-member errors
inside a 200; permanent deletion is ``actions/delete-permanent``
(DELETE only archives), and "Forgotten Email Not Subscribed" means already erased; listings
page by offset, so pulls sort by last change and the caller overlaps windows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import quote

from integrations.base import ProviderAdapter
from integrations.base import secret_matches
from integrations.errors import ProviderRejected
from integrations.errors import WebhookRejected
from integrations.types import BatchResult
from integrations.types import Contact
from integrations.types import ContactEvent
from integrations.types import EventType
from integrations.types import parse_iso

#: merge-field tag for the CRM's unsubscribe link (tags are at most 10 characters)
UNSUB_TAG = "CRMUNSUB"
PAGE = 1000


def _merge_fields(contact: Contact) -> dict[str, str]:
    return {"FNAME": contact.name, UNSUB_TAG: contact.unsubscribe_url}


def _exists(error: dict[str, Any]) -> bool:
    """Whether a batch error item says the member is already there (by its wording)."""
    text = str(error.get("error", "")).lower()
    return "already a list member" in text or "compliance state" in text


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: md5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()  # noqa: S324 - their scheme


class MailchimpAdapter(ProviderAdapter):
    """Mailchimp Marketing v3."""

    name = "mailchimp"
    display_name = "Mailchimp"
    DEFAULT_BASE_URL = "https://{dc}.api.mailchimp.com/3.0"
    BATCH_SIZE = 500
    # No request quota is published, only concurrency: "limit of 10 concurrent connections
    # for your API key" (mailchimp.com/developer/marketing/guides/run-async-requests-batch-
    # endpoint/); beyond it a 429 TooManyRequests (mailchimp.com/developer/marketing/docs/
    # errors/) without Retry-After or rate headers, so the exponential back-off applies.
    MAX_CONCURRENCY = 10
    EVENT_TYPES = {
        "unsubscribed": EventType.UNSUBSCRIBED,
        "unsubscribe": EventType.UNSUBSCRIBED,
        "cleaned": EventType.BOUNCED,
        "abuse": EventType.COMPLAINED,
        "subscribe": EventType.SUBSCRIBED,
    }

    def default_base_url(self) -> str:
        """The data-centre host named by the key's suffix (``...-us6`` -> ``us6``)."""
        dc = self.api_key.rsplit("-", 1)[-1] if "-" in self.api_key else "us1"
        return self.DEFAULT_BASE_URL.format(dc=dc)

    def _auth(self) -> dict[str, Any]:
        return {"auth": ("crm", self.api_key)}

    def _members_batch(
        self, members: list[dict[str, Any]], *, update_existing: bool
    ) -> tuple[BatchResult, list[str]]:
        """One ``POST /lists/{id}``; returns the outcome and the addresses already members.

        With ``update_existing`` false an existing member comes back as an error item with
        ``error_code`` ERROR_CONTACT_EXISTS (shared/specs/mailchimp, Errors_inner) and is left
        untouched; the caller decides what to do with those. A member who left may instead be
        refused as "in a compliance state" (shared/docs/providers.md, "Re-subscribe
        blocked"): that member exists too, and is treated the same way.
        """
        result, existing = BatchResult(), []
        body = self._json(
            self._request(
                "POST",
                f"lists/{self.list_id}",
                json={"members": members, "update_existing": update_existing},
            )
        )
        errors = {
            str(e.get("email_address", "")).lower(): e
            for e in body.get("errors") or []
            if isinstance(e, dict)
        }
        for member in members:
            email = member["email_address"]
            error = errors.get(email.lower())
            if error is None:
                result.succeeded.append(email)
            elif error.get("error_code") == "ERROR_CONTACT_EXISTS" or _exists(error):
                existing.append(email)
            else:
                result.failed[email] = str(error.get("error", ""))[:200]
        return result, existing

    def _put_member(self, contact: Contact) -> BatchResult:
        """Add-or-update one member without touching an existing member's status.

        ``PUT /lists/{id}/members/{hash}`` documents ``status_if_new`` as "required only if the
        email address is not already present on the list" (shared/specs/mailchimp,
        putListsIdMembersId); without ``status`` an existing member keeps theirs, while the
        merge fields (name, the CRM's unsubscribe link) are updated.
        """
        try:
            self._request(
                "PUT",
                f"lists/{self.list_id}/members/{subscriber_hash(contact.email)}",
                expected=(200,),
                json={
                    "email_address": contact.email,
                    "status_if_new": "subscribed",
                    "merge_fields": _merge_fields(contact),
                },
            )
        except ProviderRejected as err:
            return BatchResult(failed={contact.email: str(err)[:200]})
        return BatchResult(succeeded=[contact.email])

    def upsert(self, contacts: Sequence[Contact]) -> BatchResult:
        """Add new members as subscribed; update existing ones' merge fields, never status.

        The batch endpoint's members take ``status`` (required; ``status_if_new`` is not part
        of Add_List_Members) and ``update_existing: true`` "will change existing members'
        subscription status" (shared/specs/mailchimp, postListsId), which would resubscribe
        whoever left. So the batch runs with ``update_existing: false`` - one call per 500 -
        and only the members it reports as existing get a PUT each. Those are few after the
        first sync (a changed name, a lifted restriction), and the calls go one at a time,
        well inside Mailchimp's 10 simultaneous connections.
        """

        def send(chunk: list[Contact]) -> BatchResult:
            result, existing = self._members_batch(
                [
                    {
                        "email_address": c.email,
                        "status": "subscribed",
                        "merge_fields": _merge_fields(c),
                    }
                    for c in chunk
                ],
                update_existing=False,
            )
            by_email = {c.email: c for c in chunk}
            for email in existing:
                result.merge(self._put_member(by_email[email]))
            return result

        return self._in_batches(contacts, send)

    def unsubscribe(self, emails: Sequence[str]) -> BatchResult:
        """Batch-set members ``unsubscribed``: here overwriting the status is the point."""
        return self._in_batches(
            emails,
            lambda chunk: self._members_batch(
                [{"email_address": e, "status": "unsubscribed"} for e in chunk],
                update_existing=True,
            )[0],
        )

    def remove(self, emails: Sequence[str]) -> BatchResult:
        """Archive the members (DELETE archives; a later upsert re-adds them).

        That the upsert's PUT with ``status_if_new`` re-adds an archived member is how the API
        treats archived contacts as far as providers.md records (UNVERIFIED).
        """
        for email in emails:
            self._request(
                "DELETE",
                f"lists/{self.list_id}/members/{subscriber_hash(email)}",
                expected=(204, 404),
            )
        return BatchResult(succeeded=list(emails))

    def erase(self, email: str) -> None:
        """``delete-permanent`` on the hash; unknown or already forgotten counts as done."""
        path = f"lists/{self.list_id}/members/{subscriber_hash(email)}/actions/delete-permanent"
        try:
            self._request("POST", path, expected=(204, 404))
        except ProviderRejected as err:
            if err.status == 400 and "forgotten" in err.title.lower():
                return  # "Forgotten Email Not Subscribed": erased before
            raise

    def check(self) -> str:
        """Read the audience's name: a wrong key answers 401, an unknown audience 404.

        ``GET /lists/{list_id}`` (shared/specs/mailchimp, operationId ``getListsId``;
        mailchimp.com/developer/marketing/api/lists/get-list-info/), asking for two fields only.
        """
        response = self._request(
            "GET", f"lists/{quote(self.list_id, safe='')}", params={"fields": "id,name"}
        )
        body = self._json(response)
        return str(body.get("name") or "") if isinstance(body, dict) else ""

    def fetch_events(self, since: datetime | None) -> list[ContactEvent]:
        """Unsubscribed and cleaned members changed since ``since``, plus abuse reports."""
        events = []
        for status in ("unsubscribed", "cleaned"):
            offset = 0
            while True:
                params: dict[str, Any] = {
                    "status": status,
                    "count": PAGE,
                    "offset": offset,
                    "sort_field": "last_changed",
                    "sort_dir": "ASC",
                    "fields": "members.email_address,members.status,"
                    "members.last_changed,members.id,total_items",
                }
                if since is not None:
                    params["since_last_changed"] = since.isoformat()
                body = self._json(
                    self._request("GET", f"lists/{self.list_id}/members", params=params)
                )
                members = body.get("members") or []
                for m in members:
                    events.append(
                        ContactEvent(
                            self.name,
                            str(m.get("email_address", "")).lower(),
                            self._event_type(status),
                            parse_iso(m.get("last_changed")),
                            raw=m,
                        )
                    )
                offset += len(members)
                if not members or offset >= int(body.get("total_items") or 0):
                    break
        offset = 0
        while True:
            body = self._json(
                self._request(
                    "GET",
                    f"lists/{self.list_id}/abuse-reports",
                    params={"count": PAGE, "offset": offset},
                )
            )
            reports = body.get("abuse_reports") or []
            for r in reports:
                when = parse_iso(r.get("date"))
                if since is None or when is None or when >= since:
                    events.append(
                        ContactEvent(
                            self.name,
                            str(r.get("email_address", "")).lower(),
                            EventType.COMPLAINED,
                            when,
                            provider_event_id=f"abuse-{r.get('id')}",
                            raw=r,
                        )
                    )
            offset += len(reports)
            if not reports or offset >= int(body.get("total_items") or 0):
                break
        return events

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], secret: str
    ) -> list[ContactEvent]:
        """Unsigned, form-encoded: the secret token in the URL is the only check."""
        if not secret_matches(query.get("secret", ""), str(secret)):
            raise WebhookRejected("bad token")
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        email = form.get("data[email]", "").lower()
        kind = form.get("type", "")
        if kind == "cleaned" and form.get("data[reason]") == "abuse":
            kind = "abuse"
        if not email:
            return []
        return [
            ContactEvent(
                self.name,
                email,
                self._event_type(kind),
                parse_iso(
                    form.get("fired_at", "").replace(" ", "T") + "+00:00"
                    if form.get("fired_at")
                    else None
                ),
                raw=form,
            )
        ]
