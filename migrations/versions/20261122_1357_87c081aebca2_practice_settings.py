"""Practice settings: controller, profile, processors, retention periods (one row).

Revision ID: 87c081aebca2
Revises: 1c7d7531da69
Create Date: 2026-11-22 13:57:21.105408+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "87c081aebca2"
down_revision = "1c7d7531da69"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "practice_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("org_number", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("profile", sa.String(length=1), nullable=False),
        sa.Column("profession", sa.String(length=60), nullable=False),
        sa.Column("processors", sa.Text(), nullable=False),
        sa.Column("retention", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_settings")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("practice_settings")
