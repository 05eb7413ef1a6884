"""Privacy portal: requests filed at /integritet, kept until and after their confirmation.

One new table; no existing row changes. A data request's channel "portal" is a new value of
a String(24) column without a check constraint (no schema change).

Revision ID: 7c4e1a9f3b62
Revises: c3f1a9d27e55
Create Date: 2026-12-02 09:50:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7c4e1a9f3b62"
down_revision = "c3f1a9d27e55"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "portal_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("represented_name", sa.Text(), nullable=True),
        sa.Column("representative_role", sa.String(length=24), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind in ('access', 'portability', 'rectification', 'erasure', 'restriction', "
            "'objection')",
            name=op.f("ck_portal_request_known_kind"),
        ),
        sa.CheckConstraint(
            "representative_role is null or representative_role in ('guardian', 'trustee', "
            "'administrator', 'power_of_attorney', 'other')",
            name=op.f("ck_portal_request_known_role"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["data_request.id"],
            name=op.f("fk_portal_request_request_id_data_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_request")),
        sa.UniqueConstraint("public_id", name=op.f("uq_portal_request_public_id")),
        # ids are never reused (issue 11, finding 4): the audit trail refers to filings by id
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("portal_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_request_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_portal_request_request_id"), ["request_id"], unique=True
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("portal_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_request_request_id"))
        batch_op.drop_index(batch_op.f("ix_portal_request_created_at"))

    op.drop_table("portal_request")
