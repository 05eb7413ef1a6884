"""Subscriber figure per closed month, and a partial index of archived people.

Both serve the dashboard at 100,000 records (Scale issue): the chart no longer regroups every
subscription on each view, and the people count is "all minus archived", the latter read
from an index holding only archived people (a full index on archived_at made SQLite's
planner prefer it over the name indexes in searches).

Revision ID: c0668df8a4ab
Revises: 0f1ed8ae9a32
Create Date: 2026-11-22 15:24:09.796541+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c0668df8a4ab"
down_revision = "0f1ed8ae9a32"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "subscriber_month",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_subscriber_month")),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(
            "ix_person_archived",
            ["archived_at"],
            unique=False,
            sqlite_where=sa.text("archived_at IS NOT NULL"),
            postgresql_where=sa.text("archived_at IS NOT NULL"),
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index("ix_person_archived")
    op.drop_table("subscriber_month")
