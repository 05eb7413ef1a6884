"""Recipient tasks: recipients without an adapter told by hand (GDPR Art. 17(2), 19, 21(3)).

One new table; no existing row changes. Outbox operations an adapter cannot do get the
status "manual" (a String(16) value, no schema change).

Revision ID: b120a823c003
Revises: 5e1b7c2d9a40
Create Date: 2026-12-02 08:28:15.077582+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b120a823c003"
down_revision = "5e1b7c2d9a40"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "recipient_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("outbox_op_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "action in ('erase', 'rectify', 'restrict', 'object', 'unsubscribe', 'remove')",
            name=op.f("ck_recipient_task_known_action"),
        ),
        sa.ForeignKeyConstraint(
            ["done_by_id"],
            ["user_account.id"],
            name=op.f("fk_recipient_task_done_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_op_id"],
            ["outbox_op.id"],
            name=op.f("fk_recipient_task_outbox_op_id_outbox_op"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_recipient_task_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["data_request.id"],
            name=op.f("fk_recipient_task_request_id_data_request"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipient_task")),
        # ids are never reused (issue 11, finding 4): the audit trail refers to tasks by id
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("recipient_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recipient_task_due_at"), ["due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_recipient_task_outbox_op_id"), ["outbox_op_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recipient_task_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recipient_task_request_id"), ["request_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("recipient_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipient_task_request_id"))
        batch_op.drop_index(batch_op.f("ix_recipient_task_person_id"))
        batch_op.drop_index(batch_op.f("ix_recipient_task_outbox_op_id"))
        batch_op.drop_index(batch_op.f("ix_recipient_task_due_at"))

    op.drop_table("recipient_task")
