"""The explicit consent to health notes refers to the privacy policy in force (issue 15 part 2).

New nullable column ``policy_version_id`` on ``health_consent``, like ``consent_record`` and
``testimonial_consent`` got in 53a1332aef0f. Existing rows keep everything and get NULL: the
version they were given under was not recorded, and none is guessed afterwards.

Revision ID: 3996cf1a7057
Revises: dd9e190ab15f
Create Date: 2026-12-02 17:30:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "3996cf1a7057"
down_revision = "dd9e190ab15f"
branch_labels = None
depends_on = None

KEEP = {"sqlite_autoincrement": True}


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("health_consent", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column("policy_version_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_health_consent_policy_version_id_policy_version"),
            "policy_version",
            ["policy_version_id"],
            ["id"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("health_consent", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_health_consent_policy_version_id_policy_version"), type_="foreignkey"
        )
        batch_op.drop_column("policy_version_id")
