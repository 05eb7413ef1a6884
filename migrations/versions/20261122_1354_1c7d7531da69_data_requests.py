"""Data requests: extension, identity check, outcome, who closed it (all nullable: no backfill).

Revision ID: 1c7d7531da69
Revises: 460b61a7a3b2
Create Date: 2026-11-22 13:54:07.193288+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1c7d7531da69"
down_revision = "460b61a7a3b2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("data_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("extension_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("identity_method", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("identity_verified_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("identity_verified_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("completed_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_data_request_completed_by_id_user_account"),
            "user_account",
            ["completed_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_data_request_identity_verified_by_id_user_account"),
            "user_account",
            ["identity_verified_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("data_request", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_data_request_identity_verified_by_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_data_request_completed_by_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_column("completed_by_id")
        batch_op.drop_column("outcome")
        batch_op.drop_column("identity_verified_by_id")
        batch_op.drop_column("identity_verified_at")
        batch_op.drop_column("identity_method")
        batch_op.drop_column("extension_reason")
        batch_op.drop_column("extended_at")
