"""Keyed audit chain: a per-row HMAC tag and key id, and the retention anchor.

Rows written before this revision keep ``key_id`` and ``tag`` NULL: they are the old, unkeyed
scheme and verify by their SHA-256 chain hash alone; the first keyed row chains onto the last
of them (``crm init`` appends one at once, see ``crm.audit.seal``). No row is rewritten, so
the upgrade cannot lose or alter an entry, and downgrading only drops the new columns.

Revision ID: 5e1a7c3d9b20
Revises: b120a823c003
Create Date: 2026-12-02 09:00:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5e1a7c3d9b20"
down_revision = "b120a823c003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("tag", sa.String(length=64), nullable=True))
    op.create_table(
        "audit_anchor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchor")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_anchor_seq")),
        sqlite_autoincrement=True,  # ids are never reused (issue 11, finding 4)
    )


def downgrade() -> None:
    """Revert this revision (the tags go; the unkeyed chain hashes stay valid)."""
    op.drop_table("audit_anchor")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_column("tag")
        batch_op.drop_column("key_id")
