"""Outbox lanes: find a provider's pending legal operations without walking its upserts.

Revision ID: 5a1e7c0d2b91
Revises: 5e1a7c3d9b20
Create Date: 2026-12-02 09:00:00+00:00
"""

from __future__ import annotations

from alembic import op

revision = "5a1e7c0d2b91"
down_revision = "5e1a7c3d9b20"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("outbox_op", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_op_lane", ["provider", "status", "op", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("outbox_op", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_op_lane")
