"""Testimonials: media, consents per channel and medium, publications.

Revision ID: d7d3e40b4358
Revises: 21c616284e3b
Create Date: 2026-11-22 13:18:42.318538+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d7d3e40b4358"
down_revision = "21c616284e3b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "testimonial",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("display_mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "display_mode in ('full_name', 'first_name', 'initials', 'anonymous')",
            name=op.f("ck_testimonial_known_display_mode"),
        ),
        sa.CheckConstraint(
            "status in ('draft', 'awaiting_consent', 'approved', 'published', 'revoked')",
            name=op.f("ck_testimonial_known_status"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_testimonial_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_testimonial")),
        sa.UniqueConstraint("public_id", name=op.f("uq_testimonial_public_id")),
    )
    with op.batch_alter_table("testimonial", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_testimonial_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_testimonial_status"), ["status"], unique=False)

    op.create_table(
        "publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("testimonial_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "channel in ('website', 'social', 'newsletter', 'print')",
            name=op.f("ck_publication_known_channel"),
        ),
        sa.ForeignKeyConstraint(
            ["testimonial_id"],
            ["testimonial.id"],
            name=op.f("fk_publication_testimonial_id_testimonial"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publication")),
    )
    with op.batch_alter_table("publication", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_publication_testimonial_id"), ["testimonial_id"], unique=False
        )

    op.create_table(
        "testimonial_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("testimonial_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("media_kinds", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_method", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["testimonial_id"],
            ["testimonial.id"],
            name=op.f("fk_testimonial_consent_testimonial_id_testimonial"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_testimonial_consent")),
    )
    with op.batch_alter_table("testimonial_consent", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_testimonial_consent_testimonial_id"), ["testimonial_id"], unique=False
        )

    op.create_table(
        "testimonial_media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("testimonial_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("mime", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delete_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind in ('image', 'audio', 'video')", name=op.f("ck_testimonial_media_known_kind")
        ),
        sa.ForeignKeyConstraint(
            ["testimonial_id"],
            ["testimonial.id"],
            name=op.f("fk_testimonial_media_testimonial_id_testimonial"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_testimonial_media")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_testimonial_media_stored_name")),
    )
    with op.batch_alter_table("testimonial_media", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_testimonial_media_testimonial_id"), ["testimonial_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("testimonial_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_testimonial_media_testimonial_id"))

    op.drop_table("testimonial_media")
    with op.batch_alter_table("testimonial_consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_testimonial_consent_testimonial_id"))

    op.drop_table("testimonial_consent")
    with op.batch_alter_table("publication", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publication_testimonial_id"))

    op.drop_table("publication")
    with op.batch_alter_table("testimonial", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_testimonial_status"))
        batch_op.drop_index(batch_op.f("ix_testimonial_person_id"))

    op.drop_table("testimonial")
