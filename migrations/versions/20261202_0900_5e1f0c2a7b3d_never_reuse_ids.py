"""Never reuse ids on SQLite (issue 11, finding 4); no address in stored error texts (finding 5).

Without it SQLite gives a new row max(id) + 1, so the person created after the newest one was
erased got the erased person's id - and with it their audit history, and anything else that
points at a row by id (outbox operations, a request's list of operations, links in old mails).
``AUTOINCREMENT`` remembers the highest id ever handed out (https://www.sqlite.org/autoinc.html).
SQLite cannot add it to an existing table, so each table is rebuilt with Alembic's batch mode
(https://alembic.sqlalchemy.org/en/latest/batch.html): a copy with every row, column,
constraint, index and foreign key, then swapped in. migrations/env.py turns foreign keys off
while migrating SQLite, so dropping the old table cascades to nothing.

PostgreSQL: a no-op; its sequences never hand out a value twice.

Error texts stored before finding 5 was fixed (an outbox operation's ``last_error``, a sync
run's report) could quote an address, e.g. ``DELETE contacts/erase.me%40example.com``; they
are redacted here, on both databases, with the same function the sync now uses.

Revision ID: 5e1f0c2a7b3d
Revises: b94212db19aa
Create Date: 2026-12-02 09:00:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from integrations.errors import redact

revision = "5e1f0c2a7b3d"
down_revision = "b94212db19aa"
branch_labels = None
depends_on = None

#: Every table with an integer id at this revision. A table added later is created with
#: AUTOINCREMENT from the start (crm.db.never_reuse_ids puts it on the model).
TABLES = (
    "audit_chain",
    "audit_event",
    "breach",
    "client_card",
    "consent_record",
    "consent_text",
    "data_request",
    "journal_entry",
    "legal_hold",
    "mailing_list",
    "outbox_op",
    "person",
    "practice_settings",
    "provider_event",
    "provider_link",
    "publication",
    "rate_limit_hit",
    "recovery_code",
    "setup_token",
    "subscription",
    "suppression",
    "sync_run",
    "testimonial",
    "testimonial_consent",
    "testimonial_media",
    "user_account",
    "user_session",
    "visit",
)


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def _redact_stored_errors() -> None:
    bind = op.get_bind()
    for table, column in (("outbox_op", "last_error"), ("sync_run", "report")):
        rows = bind.execute(
            sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL")
        ).all()
        for row_id, value in rows:
            if redact(value) != value:
                bind.execute(
                    sa.text(f"UPDATE {table} SET {column} = :v WHERE id = :i"),
                    {"v": redact(value), "i": row_id},
                )


def upgrade() -> None:
    """Apply this revision."""
    _rebuild(True)
    _redact_stored_errors()


def downgrade() -> None:
    """Revert this revision."""
    _rebuild(False)
