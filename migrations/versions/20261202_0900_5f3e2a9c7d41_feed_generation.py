"""The public feed's generation row: a per-process feed cache knows when to build anew.

Revision ID: 5f3e2a9c7d41
Revises: 5a1e7c0d2b91
Create Date: 2026-12-02 09:00:00.000000+00:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "5f3e2a9c7d41"
down_revision = "5a1e7c0d2b91"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    table = op.create_table(
        "feed_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_generation")),
        sqlite_autoincrement=True,  # like every table with an integer id (issue 11, finding 4)
    )
    op.bulk_insert(table, [{"id": 1, "generation": 1, "nonce": secrets.token_hex(8)}])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("feed_generation")
