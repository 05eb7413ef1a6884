"""Start page, audit trail browser and language switch."""

from __future__ import annotations

from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from crm import controllers
from crm import paging
from crm.audit import AuditEvent
from crm.audit import staff_names
from crm.db import get_session
from crm.db import utcnow
from crm.i18n import LANG_COOKIE
from crm.i18n import N_
from crm.inputs import int_arg
from crm.main import charts
from crm.main import checklist
from crm.main import events
from crm.main import policy_notice
from crm.newsletter import stats as newsletter_stats
from crm.outbox import OutboxOp
from crm.people import search as people_search
from crm.people.models import ClientCard
from crm.privacy import breaches
from crm.privacy import policy_versions
from crm.privacy import recipients
from crm.privacy import retention
from crm.privacy.models import DataRequest
from crm.security.roles import Perm
from crm.security.roles import can
from crm.security.roles import requires
from crm.testimonials import publications
from crm.web import REFUSED_ACTION
from crm.web import current_actor
from crm.web import public
from crm.web import safe_redirect_target

bp = Blueprint("main", __name__)
bp.add_app_template_filter(events.action_label, "action_label")
bp.add_app_template_filter(events.object_label, "object_label")
bp.add_app_template_filter(events.details_text, "details_text")
bp.add_app_template_filter(events.actor_label, "actor_label")


@bp.route("/")
@requires(Perm.ACCOUNT)
def dashboard() -> Any:
    """The owner's start page: what is held, at a glance."""
    db = get_session()
    people = people_search.count_current(db)
    clients = (
        db.scalar(
            select(func.count()).select_from(ClientCard).where(ClientCard.client_until.is_(None))
        )
        or 0
    )
    owner_view = can(current_user, Perm.AUDIT_READ)
    recent = (
        db.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(10)).all()
        if owner_view
        else []
    )
    subscribers = newsletter_stats.active_now(db)
    requests = db.scalars(
        select(DataRequest)
        .options(selectinload(DataRequest.person))
        .where(DataRequest.status == "open")
        .order_by(DataRequest.due_at)
    ).all()
    tasks = publications.removal_tasks(db)
    recipient_tasks = recipients.open_tasks(db)
    breaches_owed = breaches.owed(db)
    decisions = retention.decisions(db)
    policy_notices = (
        policy_versions.dashboard_notices(db) if can(current_user, Perm.SETTINGS) else []
    )
    failing_ops = (
        db.scalar(select(func.count()).where(OutboxOp.status == "pending", OutboxOp.attempts > 0))
        or 0
    )
    chart_list = charts.build(db, subscribers=subscribers)
    # the first-run checklist is the owner's: the steps are settings only they can change
    setup = (
        checklist.for_dashboard(db, current_app.config) if can(current_user, Perm.SETTINGS) else []
    )
    db.commit()  # keeps a newly closed month's subscriber figure (and first-use settings)
    return render_template(
        "main/dashboard.html",
        setup=setup,
        removal_tasks=tasks,
        recipient_tasks=recipient_tasks,
        breaches=breaches_owed,
        breach_due=breaches.report_due,
        decisions=decisions,
        policy_notices=policy_notices,
        failing_ops=failing_ops,
        charts=chart_list,
        button=FlaskForm(),
        people=people,
        clients=clients,
        recent=recent,
        refused=refused_accesses(db, utcnow() - timedelta(days=7)) if owner_view else None,
        names=staff_names(db),
        subscribers=subscribers,
        requests=requests,
        now=utcnow(),
    )


@bp.route("/checklist/<step>/confirm", methods=["POST"])
@requires(Perm.SETTINGS)
def confirm_step(step: str) -> Any:
    """The owner confirms a checklist step only they can judge (profile B, the consent text)."""
    if step not in checklist.CONFIRMABLE:
        abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    db = get_session()
    checklist.confirm(db, step, current_actor())
    db.commit()
    flash(_("Marked as done."), "success")
    return redirect(url_for("main.dashboard", _anchor="setup"))


def refused_accesses(db: Session, since: datetime) -> int:
    """How many accesses the roles refused since ``since`` (shown to the owner, ASVS 16.3.2)."""
    stmt = select(func.count()).where(
        AuditEvent.action == REFUSED_ACTION, AuditEvent.occurred_at >= since
    )
    return db.scalar(stmt) or 0


def _date_arg(name: str, end: bool = False) -> datetime | None:
    raw = request.args.get(name, "")
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=utcnow().tzinfo)


#: the trail's orders: the sequence number is the order events were written in
AUDIT_SORTS = paging.options(
    ("-seq", N_("Newest first"), [AuditEvent.seq], True),
    ("seq", N_("Oldest first"), [AuditEvent.seq], False),
)


@bp.route("/audit")
@requires(Perm.AUDIT_READ)
def audit_log() -> Any:
    """Browse and filter the audit trail."""
    db = get_session()
    stmt = select(AuditEvent)
    action = request.args.get("action", "").strip()[:64]
    object_type = request.args.get("object_type", "").strip()[:32]
    object_id = request.args.get("object_id", "").strip()[:64]
    actor = int_arg("actor")
    if action.endswith("."):  # a group of the filter: every action in it
        stmt = stmt.where(AuditEvent.action.startswith(action, autoescape=True))
    elif action:
        stmt = stmt.where(AuditEvent.action == action)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == object_id)
    if actor is not None:
        stmt = stmt.where(AuditEvent.actor_user_id == actor)
    if since := _date_arg("since"):
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until := _date_arg("until", end=True):
        stmt = stmt.where(AuditEvent.occurred_at <= until)
    pager = paging.from_values(request.args, AUDIT_SORTS, current_app.config["AUDIT_PER_PAGE"])
    pager = pager.with_total(db.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = db.scalars(pager.window(pager.order(stmt, AuditEvent.seq))).all()
    names = staff_names(db)
    return render_template(
        "main/audit.html",
        events=rows,
        pager=pager,
        names=names,
        action_choices=events.filter_choices(),
        object_choices=sorted(
            ((code, str(label)) for code, label in events.OBJECTS.items()),
            key=lambda pair: pair[1],
        ),
        args={k: v for k, v in request.args.items() if k not in ("page", "sort")},
    )


@bp.route("/lang", methods=["POST"])
@public
def set_language() -> Any:
    """Remember the chosen language in a cookie (and on the account when logged in)."""
    form = FlaskForm()
    choice = request.form.get("lang", "")
    target = safe_redirect_target(request.form.get("next"), url_for("main.dashboard"))
    response = redirect(target)
    if form.validate_on_submit() and choice in current_app.config["LANGUAGES"]:
        from flask_login import current_user

        if current_user.is_authenticated:
            current_user.locale = choice
            get_session().commit()
        response.set_cookie(
            LANG_COOKIE,
            choice,
            max_age=365 * 86400,
            samesite="Lax",
            httponly=True,
            secure=request.is_secure,
        )
    return response


@bp.route("/policy/<int:version_id>/inform", methods=["GET", "POST"])
@requires(Perm.SETTINGS, Perm.NEWSLETTER)
def inform_about_policy(version_id: int) -> Any:
    """Show the mail about a material policy change, and send it once the owner confirms."""
    db = get_session()
    version = policy_versions.get(db, version_id)
    if version is None or not version.material:
        abort(404)
    form = FlaskForm()
    people = policy_notice.audience(db, controllers.get(db, version.controller_id))
    mail_draft = policy_notice.draft(db, version)
    subject, body = mail_draft.subject, mail_draft.body

    def page() -> str:  # the draft, or what the owner wrote, with any error in place
        return render_template(
            "main/policy_notice.html",
            version=version,
            people=len(people),
            subject=subject,
            body=body,
            form=form,
        )

    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        subject, body = request.form.get("subject", ""), request.form.get("body", "")
        try:
            sent = policy_notice.send(db, version, subject, body, current_actor())
        except policy_notice.NoticeError as err:
            db.rollback()
            flash(_(str(err)), "error")
            return page(), 422
        db.commit()
        flash(_("%(count)s mails sent about the new privacy policy.", count=sent), "success")
        return redirect(url_for("main.dashboard"))
    db.commit()
    return page()
