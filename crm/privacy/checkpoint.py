"""The nightly audit checkpoint: the chain head, kept where whoever holds the database is not.

Why: a keyed chain stops rewrites, but not cutting off the newest entries and rewinding the
head; only a copy of the head kept elsewhere shows that (``crm audit verify --checkpoint``).
So the nightly job appends the checkpoint to ``AUDIT_CHECKPOINT_FILE`` (put it on another
disk or a mounted backup share, never next to the database) and mails it to every active owner
(``AUDIT_CHECKPOINT_MAIL``). A chain that no longer verifies is mailed as an alarm instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm import controllers
from crm import fsutil
from crm import mail
from crm.auth.models import Role
from crm.auth.models import User


@dataclass
class CheckpointExport:
    """What the nightly checkpoint did; ``problems`` are for the operator (no addresses)."""

    checkpoint: audit.Checkpoint | None = None
    broken: str = ""
    written_to: Path | None = None
    mailed: int = 0
    problems: list[str] = field(default_factory=list)
    #: set when nothing kept the checkpoint (only the job's own output has it)
    warning: str = ""

    @property
    def ok(self) -> bool:
        """The chain verified and the checkpoint reached every place it was meant for."""
        return not self.broken and not self.problems


def _owner_addresses(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(User.email)
            .where(User.role == Role.OWNER, User.active.is_(True))
            .order_by(User.id)
        )
    )


def _mail_owners(session: Session, subject: str, text: str, result: CheckpointExport) -> None:
    for address in _owner_addresses(session):
        try:
            mail.send(mail.build(address, subject, text, sender=controllers.name_for()))
        except mail.MailError as err:  # its messages name the server, never the address
            result.problems.append(f"the checkpoint mail to an owner was not sent: {err}")
        else:
            result.mailed += 1


def export(session: Session) -> CheckpointExport:
    """Verify the chain and keep its head outside the database (file and/or owners' mail)."""
    cfg = current_app.config
    result = CheckpointExport()
    practice = controllers.name_for()  # the name saved in Inställningar
    try:
        result.checkpoint = audit.checkpoint(session)
    except audit.ChainBroken as err:
        result.broken = str(err)
        if cfg["AUDIT_CHECKPOINT_MAIL"]:
            _mail_owners(
                session,
                _("The audit trail is broken"),
                _(
                    "The nightly check found the audit trail of %(practice)s broken: "
                    "%(reason)s.\n\nRun `crm audit verify` on the server, compare it with "
                    "the checkpoints you kept, and treat it as a possible personal data "
                    "breach.",
                    practice=practice,
                    reason=err.report.reason,
                ),
                result,
            )
        return result
    line = result.checkpoint.line()
    target = cfg["AUDIT_CHECKPOINT_FILE"]
    if target:
        try:
            fsutil.append_private(Path(target), (line + "\n").encode())
        except OSError as err:
            result.problems.append(f"could not write the checkpoint file: {err.strerror}")
        else:
            result.written_to = Path(target)
    if cfg["AUDIT_CHECKPOINT_MAIL"]:
        _mail_owners(
            session,
            _("Audit trail checkpoint"),
            _(
                "Keep this mail outside the CRM server. It fixes the audit trail of "
                "%(practice)s as it was tonight:\n\n%(line)s\n\nTo prove later that nobody "
                "removed or rewrote an entry up to this one, run on the server:\n\n"
                "crm audit verify --checkpoint %(checkpoint)s",
                practice=practice,
                line=line,
                checkpoint=str(result.checkpoint),
            ),
            result,
        )
    if not result.written_to and not result.mailed:
        result.warning = (
            "the checkpoint was kept only in this output: set CRM_AUDIT_CHECKPOINT_FILE "
            "or create an owner account (it is mailed to owners)"
        )
    return result
