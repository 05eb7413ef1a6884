"""Human labels for the people feature's stored codes, shared with privacy's request pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: How an identity was checked (the stored codes of IdentityMethod), as the owner reads them.
IDENTITY_METHODS = {
    "id_document": _l("ID document shown"),
    "bankid": _l("BankID, done elsewhere"),
    "known_in_person": _l("known in person"),
}


def identity_method_label(method: str | None) -> str:
    """How an identity was checked, in words; a free text recorded before the codes as it is."""
    return str(IDENTITY_METHODS.get(str(method), method or ""))


#: How a client gave or withdrew consent to health notes (the codes of HealthConsentMethod).
HEALTH_CONSENT_METHODS = {
    "signed_form": _l("signed on paper"),
    "verbal": _l("verbally, to the staff member"),
    "email": _l("in writing by email"),
}


def health_consent_method_label(method: str | None) -> str:
    """How a health consent was given or withdrawn, in words."""
    return str(HEALTH_CONSENT_METHODS.get(str(method), method or ""))
