"""Paloma (paloma.se), a Swedish newsletter service, through its REST Contact API.

Sources (stored copies, read for this adapter):

- [KUNDO] Paloma's help centre, "Paloma Contact API documentation",
  https://paloma.helpcenter.kb.kundo.se/guide/paloma-contact-api-documentation?category=api :
  ``GET/POST/PUT Api/Contact``, ``DELETE Api/Contact/{id}``,
  ``GET api/Contact/GetFlatContactByPrimaryFieldValue?primaryFieldValue=`` ("contact field
  values as properties directly on the contact object. Property names for contact field values
  are the contact fields FieldKey. {Id, CustomerId, OwnerId ...{ContactFieldKey:
  ContactFieldValue}}") and ``POST Api/Contact/RegisterNewContact`` ("Registers a new contact.
  Can also register it to specific contact lists"). The stored copy ends there: request bodies,
  error shapes and rate limits are not in it, nor the base address of these relative paths
  (taken to be the plugin's ``/contacts/`` below: UNVERIFIED).
- [WP] Paloma's own WordPress plugin "Paloma Widget" (GPL, author Paloma; files
  paloma_widget_admin.php and contact_control.php, seen through the public code index): the
  base address ``https://api.paloma.se/contacts/api/...`` (``contactfield``, ``contactlist``,
  ``contactsegment``, ``terms``), HTTP Basic authentication with the *user account id* and the
  *user account API hash*, contact fields as ``{"FieldKey", "IsPrimaryField",
  "TranslatedName"}`` and lists identified by ``Guid``.
- [SUP] support.paloma.se: custom contact fields are created under *Kontakter → Mina
  kontaktfält* ("Åtgärdsnoden"); unsubscribed addresses are exported from a list's menu,
  *Exportera*, "på en separat flik" ("Redigera Kontaktlista"); *Avregistrera* from the whole
  account or chosen lists is done in the application.

What the API offers, and so what this adapter does:

- **upsert**: look the address up by the primary field (the e-mail address), then register it
  in the configured contact list (``RegisterNewContact``) or update it (``PUT Api/Contact``),
  with the CRM's unsubscribe link in the custom field ``crm_unsubscribe_url``. The write
  bodies are not in [KUNDO]; they use the documented flat shape (field values keyed by
  FieldKey, the contact's ``Id``) plus ``ContactListGuids`` - UNVERIFIED. So every write is
  read back, and an address whose stored values differ from what was sent is reported as
  failed, never as done. No unsubscribe state is ever sent, so nobody is resubscribed. The
  name is not sent: Paloma needs only the address and the link (data minimisation).
- **unsubscribe, remove (restriction), erase, listing opt-outs**: no documented endpoint.
  ``DELETE Api/Contact/{id}`` exists, but nothing says what it erases (Paloma's own
  unsubscribe record, send history, backups), so the CRM does not call it an erasure. These
  raise :class:`OperationNotSupported`; the sync makes each a manual task on the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from integrations.base import ProviderAdapter
from integrations.errors import OperationNotSupported
from integrations.errors import ProviderRejected
from integrations.types import BatchResult
from integrations.types import Contact
from integrations.types import ContactEvent

#: The custom contact field the practice creates for the CRM's unsubscribe link [SUP].
UNSUBSCRIBE_FIELD = "crm_unsubscribe_url"

MANUAL_REASON = (
    "Paloma's Contact API documents no endpoint for this (paloma.helpcenter.kb.kundo.se, "
    "Paloma Contact API documentation)"
)


class PalomaAdapter(ProviderAdapter):
    """Paloma's Contact API: upsert only; the rest is done by hand in Paloma."""

    name = "paloma"
    display_name = "Paloma"
    # [WP]: every plugin call goes to https://api.paloma.se/contacts/api/<resource>
    DEFAULT_BASE_URL = "https://api.paloma.se/contacts"
    LIST_SETTING = "LIST_ID"  # the contact list's Guid [WP]
    KEY_SETTINGS = ("ACCOUNT_ID", "API_HASH")
    MANUAL_OPERATIONS = ("unsubscribe", "remove", "erase", "fetch_events")
    # One contact at a time (3 calls each); no rate limit is published, so calls are spaced.
    BATCH_SIZE = 25
    MIN_INTERVAL = 0.2

    def __init__(self, api_key: str, list_id: str, base_url: str | None = None, **kw: Any):
        super().__init__(api_key, list_id, base_url, **kw)
        self._fields: list[Mapping[str, Any]] | None = None

    def _auth(self) -> dict[str, Any]:
        # [WP]: 'Authorization: Basic ' . base64_encode(user_account_id . ':' . api_hash)
        account_id, _sep, api_hash = self.api_key.partition(":")
        return {"auth": (account_id, api_hash)}

    # --- upsert -------------------------------------------------------------------------------

    def _primary_field(self) -> str:
        """The FieldKey of the primary field (the address) and a check for the link field.

        [WP]: ``GET api/contactfield`` lists ``{"FieldKey", "IsPrimaryField", ...}``.
        """
        if self._fields is None:
            body = self._json(self._request("GET", "api/contactfield", expected=(200,)))
            self._fields = (
                [f for f in body if isinstance(f, Mapping)] if isinstance(body, list) else []
            )
        keys = {str(f.get("FieldKey")) for f in self._fields}
        if UNSUBSCRIBE_FIELD not in keys:
            raise ProviderRejected(
                400,
                "missing contact field",
                f"create the text contact field {UNSUBSCRIBE_FIELD} in Paloma "
                "(Kontakter > Mina kontaktfält)",
            )
        primary = [str(f.get("FieldKey")) for f in self._fields if f.get("IsPrimaryField")]
        if len(primary) != 1:
            raise ProviderRejected(400, "no primary field", "Paloma named no single primary field")
        return primary[0]

    def _find(self, email: str) -> dict[str, Any] | None:
        """The flat contact for an address, or None when Paloma has none [KUNDO]."""
        response = self._request(
            "GET",
            "api/Contact/GetFlatContactByPrimaryFieldValue",
            params={"primaryFieldValue": email},
            expected=(200, 204, 404),
        )
        if response.status_code != 200 or not response.content:
            return None
        body = self._json(response)
        return body if isinstance(body, dict) and body.get("Id") is not None else None

    def upsert(self, contacts: Sequence[Contact]) -> BatchResult:
        """Register or update each address with its unsubscribe link, then read it back."""
        primary = self._primary_field()
        out = BatchResult()
        for contact in contacts:
            email = contact.email.strip().lower()
            values = {primary: email, UNSUBSCRIBE_FIELD: contact.unsubscribe_url}
            found = self._find(email)
            if found is None:
                # [KUNDO] "Registers a new contact. Can also register it to specific contact
                # lists"; body shape UNVERIFIED (see the module docstring).
                self._request(
                    "POST",
                    "Api/Contact/RegisterNewContact",
                    json={**values, "ContactListGuids": [self.list_id]},
                )
            else:
                # [KUNDO] "PUT Api/Contact: Update item" (the item carries its Id)
                self._request("PUT", "Api/Contact", json={"Id": found["Id"], **values})
            stored = self._find(email)
            if (
                stored is None
                or str(stored.get(primary, "")).lower() != email
                or stored.get(UNSUBSCRIBE_FIELD) != contact.unsubscribe_url
            ):
                out.failed[contact.email] = (
                    "Paloma did not store the contact as sent (read back differs)"
                )
                continue
            out.succeeded.append(contact.email)
            out.ids[contact.email] = str(stored["Id"])
        return out

    # --- what the API cannot do ---------------------------------------------------------------

    def unsubscribe(self, emails: Sequence[str]) -> BatchResult:
        """No unsubscribe endpoint: unsubscribe in Paloma by hand (Avregistrera, whole account)."""
        raise OperationNotSupported(self.name, "unsubscribe", MANUAL_REASON)

    def remove(self, emails: Sequence[str]) -> BatchResult:
        """No documented way to leave a list without deleting: take them out by hand."""
        raise OperationNotSupported(self.name, "remove", MANUAL_REASON)

    def erase(self, email: str) -> None:
        """``DELETE Api/Contact/{id}`` exists, but what it erases is not documented: by hand."""
        raise OperationNotSupported(
            self.name,
            "erase",
            "DELETE Api/Contact/{id} is documented without saying what it erases; "
            "delete the contact in Paloma and have Paloma confirm the erasure",
        )

    def check(self) -> str:
        """Read the contact fields: wrong credentials answer 401; the link field must exist.

        ``GET api/contactfield`` ([WP] above) is the one read that needs no contact. The
        contact list cannot be checked: reading a list by Guid is not in [KUNDO].
        """
        self._fields = None
        self._primary_field()
        return ""

    def fetch_events(self, since: datetime | None) -> list[ContactEvent]:
        """No documented listing of opt-outs: export them from Paloma (Exportera) by hand."""
        raise OperationNotSupported(self.name, "fetch_events", MANUAL_REASON)
