"""Identity checks recorded on the person (issue 14 part 5): "ID shown" at the first visit.

One new table; no existing row changes. A request's own check stays on ``data_request``
(identity_method, identity_verified_at, identity_verified_by_id), whose free-text methods
recorded before this revision are kept as they were.

Revision ID: f6f10c2bb0e2
Revises: 0674930ea7f9
Create Date: 2026-12-02 15:40:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "f6f10c2bb0e2"
down_revision = "0674930ea7f9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "identity_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "method in ('id_document', 'bankid', 'known_in_person')",
            name=op.f("ck_identity_check_known_method"),
        ),
        sa.ForeignKeyConstraint(
            ["checked_by_id"],
            ["user_account.id"],
            name=op.f("fk_identity_check_checked_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_identity_check_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_check")),
        # ids are never reused (issue 11, finding 4): the audit trail refers to rows by id
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("identity_check", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_check_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("identity_check", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_check_person_id"))

    op.drop_table("identity_check")
