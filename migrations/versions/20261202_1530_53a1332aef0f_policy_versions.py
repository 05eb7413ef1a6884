"""Published privacy policy versions; consents refer to the version in force (issue 15 part 2).

New table ``policy_version``; new nullable column ``policy_version_id`` on ``consent_record``
and ``testimonial_consent``. Existing rows keep everything and get NULL: no version had been
published when they were recorded (the consent text they saw stays referenced as before).

Revision ID: 53a1332aef0f
Revises: 91c7242703b8
Create Date: 2026-12-02 15:30:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "53a1332aef0f"
down_revision = "91c7242703b8"
branch_labels = None
depends_on = None

KEEP = {"sqlite_autoincrement": True}
#: the consent tables that now refer to the policy in force
CONSENTS = ("consent_record", "testimonial_consent")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "policy_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("controller_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("html_hash", sa.String(length=64), nullable=False),
        sa.Column("material", sa.Boolean(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("informed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("informed_count", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["controller_id"],
            ["controller.id"],
            name=op.f("fk_policy_version_controller_id_controller"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["user_account.id"],
            name=op.f("fk_policy_version_published_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_version")),
        sa.UniqueConstraint("controller_id", "number", name="uq_policy_version_number"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("policy_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_policy_version_controller_id"), ["controller_id"], unique=False
        )
    for table in CONSENTS:
        with op.batch_alter_table(table, schema=None, table_kwargs=KEEP) as batch_op:
            batch_op.add_column(sa.Column("policy_version_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_policy_version_id_policy_version"),
                "policy_version",
                ["policy_version_id"],
                ["id"],
                ondelete="RESTRICT",
            )


def downgrade() -> None:
    """Revert this revision."""
    for table in CONSENTS:
        with op.batch_alter_table(table, schema=None, table_kwargs=KEEP) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_policy_version_id_policy_version"), type_="foreignkey"
            )
            batch_op.drop_column("policy_version_id")
    with op.batch_alter_table("policy_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_version_controller_id"))
    op.drop_table("policy_version")
