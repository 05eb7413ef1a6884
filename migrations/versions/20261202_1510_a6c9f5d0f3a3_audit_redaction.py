"""Audit rows stripped by retention keep their place in the chain: ``redacted_tag``.

A profile A practice keeps journal access logs five years but other logs twelve months, in
one chain; retention strips an ordinary row past its period instead of cutting the chain (see
``crm.audit.redact``). Existing rows get NULL (not stripped), so nothing is rewritten.

Revision ID: a6c9f5d0f3a3
Revises: aa93dd8a7f55
Create Date: 2026-12-02 14:30:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a6c9f5d0f3a3"
down_revision = "aa93dd8a7f55"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redacted_tag", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Revert this revision.

    A stripped row no longer verifies by its content hash, so the downgraded chain reports it;
    that is the truth about an older app that cannot tell a stripped row from a rewritten one.
    """
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_column("redacted_tag")
