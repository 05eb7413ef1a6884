"""Webhooks from the providers (public) and the owner's integrations page."""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

import integrations
from crm import audit
from crm.db import get_session
from crm.db import utcnow
from crm.outbox import PROVIDERS
from crm.outbox import OutboxOp
from crm.outbox import ProviderLink
from crm.security.roles import Perm
from crm.security.roles import requires
from crm.sync import background
from crm.sync import events as sync_events
from crm.sync.models import ProviderEvent
from crm.sync.models import SyncRun
from crm.web import csrf
from crm.web import current_actor
from crm.web import public
from integrations.errors import IntegrationConfigError
from integrations.errors import WebhookRejected

bp = Blueprint("sync", __name__)


@bp.app_template_filter("provider_name")
def provider_name(name: str) -> str:
    """The provider's own spelling of its name."""
    return integrations.display_name(name)


@bp.app_context_processor
def _provider_links() -> dict[str, Any]:
    """Let any page show a person's status at each provider (the person page uses it).

    A template helper rather than an import, so the people feature stays free of sync.
    """

    def provider_links(person_id: int) -> list[ProviderLink]:
        return list(
            get_session().scalars(
                select(ProviderLink)
                .where(ProviderLink.person_id == person_id)
                .order_by(ProviderLink.provider)
            )
        )

    return {"provider_links": provider_links}


@bp.route("/webhooks/<provider>", methods=["GET", "POST"])
@public
@csrf.exempt  # providers authenticate with a signature or a token, not a browser session
def webhook(provider: str) -> Any:
    """Take an event a provider pushes: verify, store once, apply, answer fast."""
    cfg = current_app.config
    secret = _webhook_secret(provider) if provider in PROVIDERS else None
    if not secret:
        abort(404)
    try:
        adapter = integrations.get_adapter(provider, cfg)
    except IntegrationConfigError:
        abort(404)
    if request.method == "GET":
        # Mailchimp checks the URL with a GET before it starts sending.
        return ("", 200) if provider == "mailchimp" else abort(405)
    try:
        # werkzeug's Headers is a case-insensitive mapping, not a typing.Mapping subclass
        events = adapter.parse_webhook(
            request.headers,  # type: ignore[arg-type]
            request.get_data(),
            request.args,
            secret,
        )
    except WebhookRejected:
        return jsonify(error="forbidden"), 403
    db = get_session()
    stored = sync_events.store_events(db, events, "webhook")
    applied = sync_events.apply_events(db, provider)
    db.commit()
    return jsonify(stored=len(stored), applied=applied)


def _webhook_secret(provider: str) -> str | None:
    """The provider's webhook secret as the text the owner wrote.

    ``CRM_*`` variables are parsed as JSON, so ``CRM_BREVO_WEBHOOK_SECRET=12345`` arrives as an
    int and ``1e5`` as a float; the token the provider sends is the text, so take it from the
    environment when parsing changed its type.
    """
    name = f"{provider.upper()}_WEBHOOK_SECRET"
    value = current_app.config.get(name)
    if value is None or value == "" or isinstance(value, str):
        return value or None
    return os.environ.get(f"CRM_{name}") or str(value)


@bp.route("/integrations/")
@requires(Perm.SYNC)
def index() -> Any:
    """Each provider's state, failing operations, and the sync history."""
    db = get_session()
    cfg = current_app.config
    providers = []
    for name in PROVIDERS:
        pending = (
            db.scalar(
                select(func.count()).where(OutboxOp.provider == name, OutboxOp.status == "pending")
            )
            or 0
        )
        failing = list(
            db.scalars(
                select(OutboxOp)
                .where(
                    OutboxOp.provider == name, OutboxOp.status == "pending", OutboxOp.attempts > 0
                )
                .order_by(OutboxOp.id)
                .limit(50)
            )
        )
        events = db.scalar(select(func.count()).where(ProviderEvent.provider == name)) or 0
        providers.append(
            {
                "name": name,
                "enabled": integrations.is_enabled(name, cfg),
                "manual": integrations.ADAPTERS[name].MANUAL_OPERATIONS,
                "missing": _missing_settings(name),
                "webhook": bool(cfg.get(f"{name.upper()}_WEBHOOK_SECRET")),
                "pending": pending,
                "failing": failing,
                "events": events,
            }
        )
    runs = db.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(20)).all()
    return render_template(
        "sync/index.html",
        providers=providers,
        runs=runs,
        form=FlaskForm(),
        any_enabled=any(p["enabled"] for p in providers),
        reports={r.id: json.loads(r.report) for r in runs},
    )


#: what each provider setting is, in the owner's words (the part after ``CRM_<PROVIDER>_``)
SETTING_LABELS = {
    "API_KEY": _l("the API key"),
    "API_HASH": _l("the API hash"),
    "ACCOUNT_ID": _l("the account ID"),
    "LIST_ID": _l("the list ID"),
    "GROUP_ID": _l("the group ID"),
    # Mailchimp calls its lists audiences (https://mailchimp.com/help/find-audience-id/)
    "MAILCHIMP_LIST_ID": _l("the audience ID"),
}


def _missing_settings(name: str) -> list[str]:
    """The settings a provider still needs, in words ("the API key", "the group ID").

    Shown on the page, so "off" says what switching it on takes, and a key without its list or
    group (which the sync would report as an error on every run) is named before the first run.
    """
    prefix = f"{name.upper()}_"
    return [
        str(
            SETTING_LABELS.get(setting) or SETTING_LABELS.get(setting.removeprefix(prefix), setting)
        )
        for setting in integrations.missing_settings(name, current_app.config)
    ]


@bp.route("/integrations/retry", methods=["POST"])
@requires(Perm.SYNC)
def retry() -> Any:
    """Retry failing operations now: clear their back-off and start a sync in the background."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    if not any(integrations.is_enabled(name, current_app.config) for name in PROVIDERS):
        # nothing to sync with: say so, instead of a run that reports "all done"
        flash(_("No mail provider is set up, so there is nothing to sync."), "info")
        return redirect(url_for("sync.index"))
    db = get_session()
    db.execute(
        update(OutboxOp).where(OutboxOp.status == "pending").values(next_attempt_at=utcnow())
    )
    # the run itself is audited as the system's; this records who asked for it
    audit.record(db, current_actor(), "sync.requested", object_type="sync")
    db.commit()
    if background.start(current_app._get_current_object()):  # type: ignore[attr-defined]
        flash(
            _("The sync has started and runs in the background. Reload this page to see it."),
            "success",
        )
    else:
        flash(_("A sync is already running; try again in a minute."), "error")
    return redirect(url_for("sync.index"))
