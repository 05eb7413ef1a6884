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
from crm import provider_settings
from crm.db import get_session
from crm.db import utcnow
from crm.outbox import PROVIDERS
from crm.outbox import OutboxOp
from crm.outbox import ProviderLink
from crm.provider_settings import ProviderSettingsError
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
    cfg = provider_settings.effective_config(get_session(), current_app.config)
    secret = _webhook_secret(provider, cfg) if provider in PROVIDERS else None
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


def _webhook_secret(provider: str, cfg: Any) -> str | None:
    """The provider's webhook secret as the text the owner wrote.

    ``CRM_*`` variables are parsed as JSON, so ``CRM_BREVO_WEBHOOK_SECRET=12345`` arrives as an
    int and ``1e5`` as a float; the token the provider sends is the text, so take it from the
    environment when parsing changed its type.
    """
    name = f"{provider.upper()}_WEBHOOK_SECRET"
    value = cfg.get(name)
    if value is None or value == "" or isinstance(value, str):
        return value or None
    return os.environ.get(f"CRM_{name}") or str(value)


#: the connection test's answers, in words (provider_settings.CHECK_RESULTS)
CHECK_MESSAGES = {
    "ok": _l("%(provider)s answered: the key works and the list exists."),
    "incomplete": _l("Enter the %(provider)s settings that are still missing, then test again."),
    "wrong_key": _l(
        "%(provider)s refused the key. Check that it was copied whole and is still active."
    ),
    "no_list": _l("The key works, but %(provider)s has no list or group with that id."),
    "missing_field": _l(
        "The key works, but the contact field crm_unsubscribe_url is missing in %(provider)s "
        "(Kontakter > Mina kontaktfält)."
    ),
    "rate_limited": _l("%(provider)s says there were too many requests. Try again in a minute."),
    "unreachable": _l(
        "%(provider)s could not be reached (no answer, or a fault on its side). Try again later."
    ),
    "unexpected": _l("%(provider)s gave an answer the CRM does not understand."),
}


def check_message(result: str, provider: str) -> str:
    """The connection test's answer as a sentence."""
    message = CHECK_MESSAGES.get(result)
    return str(message) % {"provider": provider_name(provider)} if message else ""


@bp.route("/integrations/")
@requires(Perm.SYNC)
def index() -> Any:
    """Each provider's state, failing operations, and the sync history."""
    return _index_page()


def _index_page(
    errors: dict[str, str] | None = None, typed: dict[str, dict[str, str]] | None = None
) -> Any:
    """Render the page; ``errors``/``typed`` redisplay a refused form with what was entered."""
    db = get_session()
    cfg = current_app.config
    effective = provider_settings.effective_config(db, cfg)
    stored = provider_settings.stored(db)
    rows = provider_settings.last_checks(db)
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
        fields = provider_settings.fields(name, cfg, stored.get(name, {}))
        row = rows.get(name)
        providers.append(
            {
                "name": name,
                "enabled": integrations.is_enabled(name, effective),
                "manual": integrations.ADAPTERS[name].MANUAL_OPERATIONS,
                "missing": _missing_settings(name, effective),
                "webhook": bool(effective.get(f"{name.upper()}_WEBHOOK_SECRET")),
                "fields": fields,
                "overridden": [f"CRM_{name.upper()}_{f.setting}" for f in fields if f.overridden],
                "typed": (typed or {}).get(name, {}),
                "error": (errors or {}).get(name, ""),
                "checked_at": row.checked_at if row else None,
                "check": check_message(row.check_result, name) if row else "",
                "check_ok": bool(row and row.check_result == "ok"),
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
    ), (400 if errors else 200)


@bp.route("/integrations/<provider>/settings", methods=["POST"])
@requires(Perm.SYNC)
def save_settings(provider: str) -> Any:
    """Store the key, list or group and webhook secret the owner entered for a provider."""
    if provider not in PROVIDERS:
        abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    db = get_session()
    values = {k: v for k, v in request.form.items() if k in provider_settings.LABELS}
    try:
        changed = provider_settings.save(
            db,
            provider,
            values,
            clear=frozenset(request.form.getlist("clear")),
            actor=current_actor(),
        )
    except ProviderSettingsError as err:
        db.rollback()
        return _index_page({provider: _(str(err))}, {provider: values})
    db.commit()
    if changed:
        flash(
            _(
                "Saved the %(provider)s settings. Test the connection to see that they work.",
                provider=provider_name(provider),
            ),
            "success",
        )
    else:
        flash(_("Nothing was changed."), "success")
    return redirect(url_for("sync.index", _anchor=f"provider-{provider}"))


@bp.route("/integrations/<provider>/check", methods=["POST"])
@requires(Perm.SYNC)
def check_connection(provider: str) -> Any:
    """Make one read-only call to the provider and say what it answered."""
    if provider not in PROVIDERS:
        abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    db = get_session()
    outcome = provider_settings.check(db, provider, current_app.config, actor=current_actor())
    db.commit()
    message = check_message(outcome.result, provider)
    if outcome.ok and outcome.detail:
        message += " " + _("The list is called “%(name)s”.", name=outcome.detail)
    flash(message, "success" if outcome.ok else "error")
    return redirect(url_for("sync.index", _anchor=f"provider-{provider}"))


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


def _missing_settings(name: str, effective: Any) -> list[str]:
    """The settings a provider still needs, in words ("the API key", "the group ID").

    Shown on the page, so "off" says what switching it on takes, and a key without its list or
    group (which the sync would report as an error on every run) is named before the first run.
    """
    prefix = f"{name.upper()}_"
    return [
        str(
            SETTING_LABELS.get(setting) or SETTING_LABELS.get(setting.removeprefix(prefix), setting)
        )
        for setting in integrations.missing_settings(name, effective)
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
