"""Mail-provider settings entered on the integrations page (issue 16, "Product features").

One new table; no existing row changes. Holds no personal data: the practice's own API keys
(encrypted), list ids and the last connection test's answer. Settings made through ``CRM_*``
variables stay where they are and still override (crm/provider_settings.py).

Revision ID: 0674930ea7f9
Revises: 7c4e1a9f3b62
Create Date: 2026-12-02 14:30:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0674930ea7f9"
down_revision = "7c4e1a9f3b62"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "provider_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column("list_id", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("check_result", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_setting")),
        sa.UniqueConstraint("provider", name=op.f("uq_provider_setting_provider")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("provider_setting")
