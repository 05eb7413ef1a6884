"""Human labels for the people feature's stored codes, shared with privacy's request pages."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

#: How an identity was checked (the stored codes of IdentityMethod), as the owner reads them.
IDENTITY_METHODS = {
    "id_document": _l("ID document shown"),
    "bankid": _l("BankID, done elsewhere"),
    "known_in_person": _l("known in person"),
}


def _label(labels: Mapping[str, object], code: str | None) -> str:
    """A stored code in words; one recorded before the codes existed (free text) as it is."""
    return str(labels.get(str(code), code or ""))


def identity_method_label(method: str | None) -> str:
    """How an identity was checked, in words."""
    return _label(IDENTITY_METHODS, method)


#: How a client gave or withdrew consent to health notes (the codes of HealthConsentMethod).
HEALTH_CONSENT_METHODS = {
    "signed_form": _l("signed on paper"),
    "verbal": _l("verbally, to the staff member"),
    "email": _l("in writing by email"),
}


def health_consent_method_label(method: str | None) -> str:
    """How a health consent was given or withdrawn, in words."""
    return _label(HEALTH_CONSENT_METHODS, method)
