"""Purchases (bookkeeping) and retention periods per controller.

``purchase``: a purchase or invoice reference per person (date, amount in öre, reference,
encrypted products sold); the bookkeeping hold and retention rule count from it
(bokföringslagen 7 kap. 2 §). ``retention_period``: a controller's period per record kind
(crm/privacy/periods.py); no rows at first, so every controller keeps the installation's
periods from the practice settings until a practice file sets its own. Nothing existing is
rewritten.

Revision ID: 91c7242703b8
Revises: a6c9f5d0f3a3
Create Date: 2026-12-02 15:00:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "91c7242703b8"
down_revision = "a6c9f5d0f3a3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "purchase",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("controller_id", sa.Integer(), nullable=False),
        sa.Column("purchased_on", sa.Date(), nullable=False),
        sa.Column("amount_ore", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("products", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("amount_ore >= 0", name=op.f("ck_purchase_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_purchase_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["controller_id"],
            ["controller.id"],
            name=op.f("fk_purchase_controller_id_controller"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_purchase_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase")),
        sqlite_autoincrement=True,  # ids are never reused (issue 11, finding 4)
    )
    with op.batch_alter_table("purchase", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_purchase_controller_id"), ["controller_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_purchase_purchased_on"), ["purchased_on"], unique=False
        )
    op.create_table(
        "retention_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("controller_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("from_year_end", sa.Boolean(), nullable=False),
        sa.Column("year_start_month", sa.Integer(), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("include_active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "months >= 0 and months <= 1200", name=op.f("ck_retention_period_months_in_range")
        ),
        sa.CheckConstraint(
            "year_start_month between 1 and 12", name=op.f("ck_retention_period_known_month")
        ),
        sa.ForeignKeyConstraint(
            ["controller_id"],
            ["controller.id"],
            name=op.f("fk_retention_period_controller_id_controller"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_period")),
        sa.UniqueConstraint("controller_id", "kind", name="uq_retention_period_controller_kind"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("retention_period", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_retention_period_controller_id"), ["controller_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision (recorded purchases and per-controller periods are dropped)."""
    with op.batch_alter_table("retention_period", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retention_period_controller_id"))
    op.drop_table("retention_period")
    with op.batch_alter_table("purchase", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_purchased_on"))
        batch_op.drop_index(batch_op.f("ix_purchase_controller_id"))
        batch_op.drop_index(batch_op.f("ix_purchase_person_id"))
    op.drop_table("purchase")
