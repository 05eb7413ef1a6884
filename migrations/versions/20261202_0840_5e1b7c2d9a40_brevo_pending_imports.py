"""Provider state remembers asynchronous imports still running (Brevo's processIds).

Revision ID: 5e1b7c2d9a40
Revises: 5e1f0c2a7b3d
Create Date: 2026-12-02 08:40:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5e1b7c2d9a40"
down_revision = "5e1f0c2a7b3d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("provider_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_imports", sa.Text(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("provider_state", schema=None) as batch_op:
        batch_op.drop_column("pending_imports")
