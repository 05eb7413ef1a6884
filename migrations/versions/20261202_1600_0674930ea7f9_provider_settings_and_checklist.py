"""Provider settings entered on the integrations page; the first-run checklist's steps.

Issue 16, "Product features". Two new tables; no existing row changes. Neither holds personal
data: ``provider_setting`` has the practice's own API keys (encrypted), list ids and the last
connection test's answer; ``setup_step`` the checklist steps the owner confirmed. Settings made through ``CRM_*``
variables stay where they are and still override (crm/provider_settings.py).

Revision ID: 0674930ea7f9
Revises: 53a1332aef0f
Create Date: 2026-12-02 16:00:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0674930ea7f9"
down_revision = "53a1332aef0f"
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
    op.create_table(
        "setup_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["done_by_id"],
            ["user_account.id"],
            name=op.f("fk_setup_step_done_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setup_step")),
        sa.UniqueConstraint("step", name=op.f("uq_setup_step_step")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("setup_step")
    op.drop_table("provider_setting")
