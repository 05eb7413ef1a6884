"""Human labels for stored codes (statuses, sources, methods), translated where shown."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

STATUS = {
    "pending": _l("awaiting confirmation"),
    "active": _l("active"),
    "unsubscribed": _l("unsubscribed"),
    "bounced": _l("bounced"),
    "complained": _l("complained"),
}
SOURCE = {
    "signup_form": _l("sign-up page"),
    "embed_form": _l("form on your website"),
    "api": _l("website (JSON)"),
    "manual": _l("added by staff"),
    "import": _l("import"),
    "preferences": _l("preferences page"),
}
METHOD = {
    "web_form": _l("web form"),
    "double_opt_in": _l("confirmation link clicked"),
    "paper_form": _l("paper form"),
    "verbal": _l("verbally"),
    "soft_opt_in": _l("existing client (soft opt-in)"),
    "import": _l("import"),
    "unsubscribe_link": _l("unsubscribe page"),
    "one_click": _l("one-click in the mail program"),
    "preferences": _l("preferences page"),
    "staff_on_behalf": _l("by staff on their behalf"),
    "provider": _l("at the mail provider"),
}
REQUEST_KIND = {
    "access": _l("access"),
    "portability": _l("portability"),
    "rectification": _l("rectification"),
    "erasure": _l("erasure"),
    "restriction": _l("restriction"),
    "objection": _l("objection"),
}
REQUEST_STATUS = {"open": _l("open"), "completed": _l("completed"), "refused": _l("refused")}
REQUEST_CHANNEL = {
    "email": _l("email"),
    "letter": _l("letter"),
    "phone": _l("phone"),
    "in_person": _l("in person"),
    "preferences_page": _l("preferences page"),
    "portal": _l("privacy portal"),
}
HOLD = {
    "journal": _l("Patient journal"),
    "bookkeeping": _l("Bookkeeping"),
    "legal_claim": _l("Legal claim"),
}
DECISION = {
    "journal": _l("journal past its ten-year hold"),
    "client_card": _l("client card past its retention period"),
}
PROVIDER_STATUS = {
    "active": _l("subscribed"),
    "unsubscribed": _l("unsubscribed"),
    "erased": _l("erased"),
    "deleted": _l("deleted at the provider"),
}
OUTBOX_OP = {
    "upsert": _l("add or update"),
    "unsubscribe": _l("unsubscribe"),
    "erase": _l("erase"),
    "remove": _l("take out of the audience (restriction)"),
    "fetch_events": _l("fetch opt-outs"),
}
RECIPIENT_ACTION = {
    "erase": _l("erase what they hold about the person"),
    "rectify": _l("correct what they hold about the person"),
    "restrict": _l("stop using the person's data until told otherwise (restriction)"),
    "object": _l("stop all direct marketing to the person (objection)"),
    "unsubscribe": _l("unsubscribe the address from every list"),
    "remove": _l("take the address out of the audience (restriction)"),
}
BREACH_RISK = {
    "none": _l("unlikely to harm anyone"),
    "risk": _l("a risk"),
    "high": _l("a high risk"),
}
ACTION = {"grant": _l("Consent given"), "confirm": _l("Confirmed"), "withdraw": _l("Withdrawn")}


def register(bp: Blueprint) -> None:
    """Make the label filters available to every template."""
    for name, table in (
        ("status_label", STATUS),
        ("source_label", SOURCE),
        ("method_label", METHOD),
        ("consent_action_label", ACTION),
        ("request_kind_label", REQUEST_KIND),
        ("provider_status_label", PROVIDER_STATUS),
        ("outbox_op_label", OUTBOX_OP),
        ("recipient_action_label", RECIPIENT_ACTION),
        ("manual_op_label", OUTBOX_OP),
        ("breach_risk_label", BREACH_RISK),
        ("request_status_label", REQUEST_STATUS),
        ("request_channel_label", REQUEST_CHANNEL),
        ("hold_label", HOLD),
        ("decision_label", DECISION),
    ):
        bp.add_app_template_filter(lambda v, t=table: str(t.get(str(v), v)), name)
