"""Sync: the transactional outbox, provider links, provider events, cursors, run reports.

Revision ID: 460b61a7a3b2
Revises: d7d3e40b4358
Create Date: 2026-11-22 13:38:39.643283+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "460b61a7a3b2"
down_revision = "d7d3e40b4358"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "provider_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("dedupe_hash", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_event")),
        sa.UniqueConstraint("dedupe_hash", name=op.f("uq_provider_event_dedupe_hash")),
    )
    op.create_table(
        "provider_state",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("cursor", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_provider_state")),
    )
    op.create_table(
        "sync_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_run")),
    )
    op.create_table(
        "outbox_op",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("op", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_outbox_op_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_op")),
    )
    with op.batch_alter_table("outbox_op", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_op_pending", ["provider", "status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "provider_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_provider_link_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_link")),
        sa.UniqueConstraint("person_id", "provider", name="uq_provider_link_person"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("provider_link")
    with op.batch_alter_table("outbox_op", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_op_pending")

    op.drop_table("outbox_op")
    op.drop_table("sync_run")
    op.drop_table("provider_state")
    op.drop_table("provider_event")
