"""What the audit trail's codes mean, in the owner's words (issue 16 defect 7).

The trail stores stable codes (``auth.login``, ``person``, ``{"full": true}``) because its rows
are hash-chained and must never change; the owner reads words. Every action any module in crm/
records has a label here (tests/test_events.py fails on a code without one), and the audit
filter offers these labels instead of asking for codes. English source strings; the Swedish is
in the catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

#: every audited action, by code
ACTIONS: Mapping[str, Any] = {
    "access.denied": _l("Access refused (the role does not allow it)"),
    "audit.keyed": _l("Audit trail sealed with the key"),
    "audit.pruned": _l("Old audit entries deleted"),
    "auth.login": _l("Logged in"),
    "auth.login_failed": _l("Failed login"),
    "auth.login_throttled": _l("Login blocked after too many attempts"),
    "auth.logout": _l("Logged out"),
    "auth.mfa_enable": _l("Two-step verification turned on"),
    "auth.mfa_failed": _l("Wrong verification code"),
    "auth.mfa_reset": _l("Two-step verification reset"),
    "auth.password_change": _l("Password changed"),
    "auth.reauth_failed": _l("Failed password check"),
    "auth.recovery_code_used": _l("Recovery code used"),
    "auth.recovery_codes": _l("New recovery codes made"),
    "breach.informed": _l("Affected people told of a breach"),
    "breach.record": _l("Personal data breach documented"),
    "breach.reported": _l("Breach reported to IMY"),
    "newsletter.add_manual": _l("Subscriber added by hand"),
    "newsletter.confirm": _l("Newsletter sign-up confirmed"),
    "newsletter.consent_text": _l("Consent text changed"),
    "newsletter.export": _l("Subscribers exported"),
    "newsletter.import": _l("Subscribers imported"),
    "newsletter.list_create": _l("Mailing list created"),
    "newsletter.signup": _l("Newsletter sign-up"),
    "newsletter.unsubscribe": _l("Unsubscribed from the newsletter"),
    "person.archive": _l("Person archived"),
    "person.unarchive": _l("Person restored from the archive"),
    "person.client_card": _l("Client card saved"),
    "person.create": _l("Person added"),
    "person.erase": _l("Person erased"),
    "person.id_numbers_reduced": _l("Identity numbers reduced"),
    "person.journal_entry": _l("Journal entry written"),
    "person.purchase_add": _l("Purchase recorded"),
    "person.reveal_health_notes": _l("Health notes shown"),
    "person.reveal_personnummer": _l("Personnummer shown"),
    "person.update": _l("Person's details changed"),
    "person.view": _l("Person page opened"),
    "person.visit_add": _l("Visit recorded"),
    "privacy.activities_replace": _l("Processing activities replaced"),
    "privacy.activity_add": _l("Processing activity added"),
    "privacy.activity_edit": _l("Processing activity changed"),
    "privacy.activity_remove": _l("Processing activity removed"),
    "privacy.practice_load": _l("Practice file loaded"),
    "privacy.policy_publish": _l("Privacy policy published"),
    "privacy.policy_informed": _l("People told of the new privacy policy"),
    "privacy.retention_period": _l("Retention period changed"),
    "privacy.controller_add": _l("Controller added"),
    "privacy.export": _l("Data export made"),
    "privacy.export_download": _l("Data export downloaded"),
    "privacy.export_link": _l("Download link mailed"),
    "privacy.hold": _l("Data kept despite erasure"),
    "privacy.identity_verified": _l("Identity checked"),
    "privacy.objection": _l("Objection to marketing recorded"),
    "privacy.portal_filed": _l("Request sent through the privacy page"),
    "privacy.recipient_tasks": _l("Recipients to tell listed"),
    "privacy.recipient_told": _l("Recipient told"),
    "privacy.request": _l("Request registered"),
    "privacy.request_completed": _l("Request completed"),
    "privacy.request_refused": _l("Request refused"),
    "privacy.request_extended": _l("Request deadline extended"),
    "privacy.restrict": _l("Processing restricted"),
    "privacy.restriction_lifted": _l("Restriction lifted"),
    "privacy.settings": _l("Practice settings changed"),
    "representation.add": _l("Representative linked"),
    "representation.end": _l("Representation ended"),
    "representation.representative_removed": _l("Representative removed"),
    "retention.delete": _l("Deleted when its time was up"),
    "retention.hold_ended": _l("Keeping period ended"),
    "retention.unconfirmed_signups": _l("Unconfirmed sign-ups deleted"),
    "sync.manual_task": _l("Task for a mail provider"),
    "sync.requested": _l("Synchronisation started by hand"),
    "sync.run": _l("Synchronisation with mail providers"),
    "sync.provider_settings": _l("Mail provider settings changed"),
    "sync.provider_check": _l("Mail provider connection tested"),
    "setup.confirm": _l("First-run step confirmed"),
    "setup.complete": _l("First-run checklist completed"),
    "testimonial.consent": _l("Consent to a testimonial"),
    "testimonial.consent_request": _l("Consent to a testimonial asked for"),
    "testimonial.consent_void": _l("Testimonial consent void after an edit"),
    "testimonial.create": _l("Testimonial written down"),
    "testimonial.edit": _l("Testimonial changed"),
    "testimonial.media_add": _l("File added to a testimonial"),
    "testimonial.media_delete": _l("File deleted from a testimonial"),
    "testimonial.publication": _l("Testimonial publication recorded"),
    "testimonial.publication_removed": _l("Testimonial taken down"),
    "testimonial.revoke": _l("Testimonial consent withdrawn"),
    "user.activate": _l("User account activated"),
    "user.deactivate": _l("User account deactivated"),
    "user.controller": _l("User's controller changed"),
    "user.create": _l("User account created"),
    "user.invite": _l("User invited"),
    "user.role": _l("User's role changed"),
}

#: the filter's groups: an action code prefix each
GROUPS: Mapping[str, Any] = {
    "access.": _l("Refused access"),
    "auth.": _l("Logins and accounts"),
    "user.": _l("Users"),
    "person.": _l("People"),
    "representation.": _l("Representatives"),
    "privacy.": _l("Privacy and requests"),
    "breach.": _l("Personal data breaches"),
    "newsletter.": _l("Newsletter"),
    "sync.": _l("Mail providers"),
    "setup.": _l("Getting started"),
    "testimonial.": _l("Testimonials"),
    "retention.": _l("Retention"),
    "audit.": _l("Audit trail"),
}

#: what an entry is about, by ``object_type``
OBJECTS: Mapping[str, Any] = {
    "breach": _l("Breach"),
    "consent_text": _l("Consent text"),
    "controller": _l("Controller"),
    "data_request": _l("Request"),
    "list": _l("Mailing list"),
    "person": _l("Person"),
    "portal_request": _l("Request from the privacy page"),
    "policy_version": _l("Privacy policy version"),
    "processing_activity": _l("Processing activity"),
    "provider": _l("Mail provider"),
    "recipient_task": _l("Recipient to tell"),
    "setup": _l("First-run checklist"),
    "sync": _l("Synchronisation request"),
    "sync_run": _l("Synchronisation run"),
    "testimonial": _l("Testimonial"),
    "user": _l("User"),
}

#: who acted when no staff user did, by ``actor_kind``
ACTORS: Mapping[str, Any] = {
    "user": _l("User"),
    "public": _l("The person, on the website"),
    "cli": _l("Command line"),
    "system": _l("The system"),
}

#: the detail keys services record, by key
DETAILS: Mapping[str, Any] = {
    "action": _l("Action"),
    "bytes": _l("Size (bytes)"),
    "channel": _l("Channel"),
    "channels": _l("Channels"),
    "controller": _l("Controller"),
    "corrects": _l("Corrects entry"),
    "created": _l("Created"),
    "entry": _l("Entry"),
    "errors": _l("Errors"),
    "fields": _l("Fields"),
    "full": _l("Everything"),
    "kept": _l("Kept"),
    "mails": _l("Mails"),
    "material": _l("Material change"),
    "number": _l("Number"),
    "purchase_id": _l("Purchase"),
    "key": _l("Activity"),
    "kind": _l("Kind"),
    "list": _l("List"),
    "lists": _l("Lists"),
    "media": _l("Media"),
    "media_deleted": _l("Files deleted"),
    "method": _l("Method"),
    "mode": _l("Mode"),
    "months": _l("Months"),
    "ok": _l("Succeeded"),
    "op": _l("Operation"),
    "outbox_op": _l("Queued operation"),
    "people": _l("People"),
    "person": _l("Person"),
    "provider": _l("Provider"),
    "providers": _l("Providers"),
    "providers_confirmed": _l("Providers confirmed"),
    "publication": _l("Publication"),
    "reason": _l("Reason"),
    "recipient": _l("Recipient"),
    "recipients": _l("Recipients"),
    "removal_tasks": _l("Take-down tasks"),
    "representation": _l("Representation"),
    "representative": _l("Representative"),
    "request": _l("Request"),
    "risk": _l("Risk"),
    "role": _l("Role"),
    "rows": _l("Rows"),
    "rule": _l("Rule"),
    "settled": _l("Settled"),
    "skipped_suppressed": _l("Skipped (blocked addresses)"),
    "skipped_unsubscribed": _l("Skipped (unsubscribed)"),
    "source": _l("Source"),
    "status": _l("Status"),
    "subscriptions": _l("Subscriptions"),
    "suppression_lifted": _l("Block lifted"),
    "up_to_seq": _l("Up to entry"),
    "deleted": _l("Deleted"),
    "endpoint": _l("Page"),
    "needs": _l("Needs permission"),
    "version": _l("Version"),
    "via": _l("Via"),
    "visit_id": _l("Visit"),
}


def action_label(code: str) -> str:
    """The words for an action code (the code itself only for one this version never wrote)."""
    label = ACTIONS.get(code)
    return str(label) if label is not None else code


def object_label(object_type: str | None, object_id: str | None) -> str:
    """``Person #12``: what an entry is about."""
    if not object_type:
        return ""
    label = OBJECTS.get(object_type)
    name = str(label) if label is not None else object_type.replace("_", " ")
    return f"{name} #{object_id}" if object_id else name


def details_text(details: Mapping[str, Any]) -> str:
    """The details in words: labelled keys, yes/no for flags, empty values left out."""
    parts = []
    for key, value in details.items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        if value is True:
            shown = _("yes")
        elif value is False:
            shown = _("no")
        elif isinstance(value, list | tuple):
            shown = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            shown = ", ".join(f"{k} {v}" for k, v in value.items())
        else:
            shown = str(value)
        label = DETAILS.get(key)
        parts.append(f"{label if label is not None else key.replace('_', ' ')}: {shown}")
    return "; ".join(parts)


def actor_label(kind: str) -> str:
    """Who acted when no staff user did."""
    label = ACTORS.get(kind)
    return str(label) if label is not None else kind


def filter_choices() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The audit filter: each group (its prefix and label) with its actions, by label."""
    return [
        (
            prefix,
            str(group),
            sorted(
                ((code, str(label)) for code, label in ACTIONS.items() if code.startswith(prefix)),
                key=lambda pair: pair[1],
            ),
        )
        for prefix, group in GROUPS.items()
    ]
