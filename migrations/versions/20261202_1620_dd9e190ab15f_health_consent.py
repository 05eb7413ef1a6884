"""Explicit consent to health notes, recorded like a newsletter consent (issue 14 part 6).

One new table; no existing row changes. Health notes written before this revision keep the
Art. 9 basis recorded on their client card; a new or changed note under explicit consent
needs a consent recorded here.

Revision ID: dd9e190ab15f
Revises: 2fd3e8cced01
Create Date: 2026-12-02 15:50:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dd9e190ab15f"
down_revision = "2fd3e8cced01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "health_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("controller_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("text_version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "action in ('grant', 'withdraw')", name=op.f("ck_health_consent_known_action")
        ),
        sa.CheckConstraint(
            "method in ('signed_form', 'verbal', 'email')",
            name=op.f("ck_health_consent_known_method"),
        ),
        sa.ForeignKeyConstraint(
            ["controller_id"],
            ["controller.id"],
            name=op.f("fk_health_consent_controller_id_controller"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_health_consent_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["user_account.id"],
            name=op.f("fk_health_consent_recorded_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_consent")),
        # ids are never reused (issue 11, finding 4): the audit trail refers to rows by id
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("health_consent", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_health_consent_controller_id"), ["controller_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_health_consent_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("health_consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_consent_person_id"))
        batch_op.drop_index(batch_op.f("ix_health_consent_controller_id"))

    op.drop_table("health_consent")
