"""Art. 21(1) objections name the processing and when it stopped (issue 14 part 7).

Three nullable columns on ``data_request``; every existing row keeps its values (an existing
objection request had no processing named: the columns stay empty for it).

Revision ID: 2fd3e8cced01
Revises: f6f10c2bb0e2
Create Date: 2026-12-02 15:45:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2fd3e8cced01"
down_revision = "f6f10c2bb0e2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("data_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("processing", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("compelling_ground", sa.Text(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("data_request", schema=None) as batch_op:
        batch_op.drop_column("compelling_ground")
        batch_op.drop_column("stopped_at")
        batch_op.drop_column("processing")
