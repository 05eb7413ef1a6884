"""Labels for testimonial codes, translated where shown."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

STATUS = {
    "draft": _l("draft"),
    "awaiting_consent": _l("awaiting consent"),
    "approved": _l("approved"),
    "published": _l("published"),
    "revoked": _l("revoked"),
}
CHANNEL = {
    "website": _l("our website"),
    "social": _l("social media"),
    "newsletter": _l("newsletter"),
    "print": _l("print (flyers, posters)"),
}
MEDIUM = {"text": _l("the text"), "image": _l("images"), "audio": _l("audio"), "video": _l("video")}
DISPLAY = {
    "full_name": _l("full name"),
    "first_name": _l("first name"),
    "initials": _l("initials"),
    "anonymous": _l("anonymous"),
}


def register(bp: Blueprint) -> None:
    """Make the label filters available to every template."""
    for name, table in (
        ("testimonial_status_label", STATUS),
        ("channel_label", CHANNEL),
        ("medium_label", MEDIUM),
        ("display_label", DISPLAY),
    ):
        bp.add_app_template_filter(lambda v, t=table: str(t.get(str(v), v)), name)
