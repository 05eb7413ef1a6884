"""Processing activities as data, per controller; the features a practice uses (issue 15 part 1).

New table ``processing_activity``; new column ``practice_settings.features`` (JSON, "{}" = the
defaults: newsletter and testimonials in use, the journal under profile A).

Data: every existing controller gets the activities today's fixed policy published for it,
marked ``follows_settings`` so their texts keep being generated from the settings exactly as
before; the newsletter goes to the controller that runs it only (seed 000: the consent is
given to that company). A fresh installation has no controller yet: its list is filled on
first use (crm/privacy/activities.py ``ensure``), from the same defaults.

Revision ID: aa93dd8a7f55
Revises: 8a74eb5e7de7
Create Date: 2026-12-02 15:00:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "aa93dd8a7f55"
down_revision = "8a74eb5e7de7"
branch_labels = None
depends_on = None

KEEP = {"sqlite_autoincrement": True}

#: key, name, purpose, legal basis, health basis: what the fixed policy said (Swedish, the
#: stored fallback; the published texts are generated while ``follows_settings`` holds)
STANDARD = (
    ("clients", "Klientarbete och journal", "Vård, behandling eller coachning.", "contract", ""),
    (
        "representatives",
        "Företrädare och närstående",
        "Att veta vem som får företräda en klient.",
        "legal_obligation",
        "",
    ),
    ("newsletter", "Nyhetsbrev", "Utskick av nyhetsbrevet.", "consent", ""),
    ("testimonials", "Omdömen", "Publicering av omdömen.", "consent", "explicit_consent"),
    ("bookkeeping", "Bokföring", "Fakturering och bokföring.", "legal_obligation", ""),
    (
        "requests",
        "Begäranden och säkerhet",
        "Att besvara begäranden om personuppgifter och hålla systemet säkert.",
        "legal_obligation",
        "",
    ),
)


def _fill(bind: sa.Connection) -> None:
    """Each existing controller's activities, as the fixed policy published them."""
    rows = bind.execute(sa.text("SELECT id, runs_newsletter FROM controller ORDER BY id")).all()
    if not rows:
        return
    runs = next((r.id for r in rows if r.runs_newsletter), rows[0].id)
    for controller in rows:
        position = 0
        for key, name, purpose, basis, health in STANDARD:
            if key == "newsletter" and controller.id != runs:
                continue
            position += 1
            bind.execute(
                sa.text(
                    "INSERT INTO processing_activity (controller_id, position, key, "
                    "follows_settings, name, purpose, subjects, data_categories, legal_basis, "
                    "basis_detail, health_basis, recipients, transfers, retention, source, "
                    "created_at, updated_at) VALUES (:c, :p, :k, :true, :n, :purpose, '', '', "
                    ":basis, '', :health, '', '', 'Enligt inställningarna.', '', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {
                    "c": controller.id,
                    "p": position,
                    "k": key,
                    "true": True,
                    "n": name,
                    "purpose": purpose,
                    "basis": basis,
                    "health": health,
                },
            )


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "processing_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("controller_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("follows_settings", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("subjects", sa.Text(), nullable=False),
        sa.Column("data_categories", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.String(length=24), nullable=False),
        sa.Column("basis_detail", sa.Text(), nullable=False),
        sa.Column("health_basis", sa.String(length=24), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("transfers", sa.Text(), nullable=False),
        sa.Column("retention", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "legal_basis in ('consent', 'contract', 'legal_obligation', 'vital_interests', "
            "'public_task', 'legitimate_interest')",
            name=op.f("ck_processing_activity_known_basis"),
        ),
        sa.CheckConstraint(
            "health_basis in ('', 'explicit_consent', 'health_care', 'legal_claims')",
            name=op.f("ck_processing_activity_known_health_basis"),
        ),
        sa.ForeignKeyConstraint(
            ["controller_id"],
            ["controller.id"],
            name=op.f("fk_processing_activity_controller_id_controller"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processing_activity")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("processing_activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_processing_activity_controller_id"), ["controller_id"], unique=False
        )
    with op.batch_alter_table("practice_settings", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column("features", sa.Text(), nullable=True))
    op.execute(sa.text("UPDATE practice_settings SET features = '{}'"))
    with op.batch_alter_table("practice_settings", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.alter_column("features", existing_type=sa.Text(), nullable=False)
    _fill(op.get_bind())


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("practice_settings", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column("features")
    with op.batch_alter_table("processing_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processing_activity_controller_id"))
    op.drop_table("processing_activity")
