"""The public privacy policy, generated from the practice settings."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import current_app
from flask import redirect
from flask import render_template

from crm.db import get_session
from crm.privacy import record
from crm.privacy import settings
from crm.web import public

bp = Blueprint("privacy_public", __name__)


@bp.route("/integritetspolicy")
@public
def policy() -> Any:
    """The privacy policy: what the system actually does (or the practice's own page)."""
    url = current_app.config["PRIVACY_POLICY_URL"]
    if url:
        return redirect(url)
    db = get_session()
    row = settings.load(db, current_app.config["PRACTICE_NAME"])
    db.commit()
    return render_template(
        "public/privacy.html", row=row, activities=record.activities(row), security=record.SECURITY
    )
