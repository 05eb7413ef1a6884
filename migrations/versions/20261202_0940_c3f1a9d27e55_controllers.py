"""Controllers, identity-number minimisation, representatives (issue 14, parts 1-3).

- ``controller``: one row per controller of the installation (seed 000). An installation
  that already has data gets controller 1 from its practice settings row (name, org.nr.,
  address, contact, profile, profession), which then loses those columns; every client
  card, journal entry, request and consent, and every person, gets ``controller_id`` 1. Its
  identity-number setting is ``full``: the practice recorded full personnummer until now,
  and an upgrade changes nothing by itself (the settings page then asks a profile B
  practice for the reason, or offers to reduce the stored numbers). A fresh installation
  gets its first controller on first use, with profile B's default, the birth date only.
- ``person.birth_date``: the date alone, when that is all a controller records (seed 003).
- ``user_account.controller_id``: an account limited to one controller's people.
- ``representation``: related persons and their mandates (seed 004); a request may be filed
  by one (``data_request.requester_id``, ``representation_id``).

Every existing row is kept.

Revision ID: c3f1a9d27e55
Revises: 5f3e2a9c7d41
Create Date: 2026-12-02 09:40:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c3f1a9d27e55"
down_revision = "5f3e2a9c7d41"
branch_labels = None
depends_on = None

#: the columns that move from practice_settings to controller
MOVED = (
    ("name", sa.String(length=200)),
    ("org_number", sa.String(length=20)),
    ("address", sa.String(length=500)),
    ("contact_name", sa.String(length=200)),
    ("contact_email", sa.String(length=254)),
    ("profile", sa.String(length=1)),
    ("profession", sa.String(length=60)),
)

#: a SQLite table rebuilt by batch mode keeps AUTOINCREMENT only when told (20261202_0900)
KEEP = {"sqlite_autoincrement": True}

#: tables whose rows now belong to a controller (all existing rows: controller 1)
OWNED = ("person", "client_card", "journal_entry", "data_request", "consent_record")


def _first_controller(bind: sa.Connection) -> bool:
    """Create controller 1 from today's settings when the installation has any data."""
    settings = bind.execute(
        sa.text(
            "SELECT name, org_number, address, contact_name, contact_email, profile, "
            "profession FROM practice_settings WHERE id = 1"
        )
    ).first()
    has_rows = any(
        bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None
        for table in OWNED
    )
    if settings is None and not has_rows:
        return False  # a fresh installation: the first controller is made on first use
    values = dict(settings._mapping) if settings is not None else {}
    bind.execute(
        sa.text(
            "INSERT INTO controller (id, name, org_number, address, contact_name, "
            "contact_email, profile, profession, id_number_mode, id_number_reason, "
            "runs_newsletter, representative_months, created_at) VALUES (1, :name, :org, "
            ":address, :contact_name, :contact_email, :profile, :profession, 'full', '', "
            ":false, 12, CURRENT_TIMESTAMP)"
        ),
        {
            "name": values.get("name") or "",
            "org": values.get("org_number") or "",
            "address": values.get("address") or "",
            "contact_name": values.get("contact_name") or "",
            "contact_email": values.get("contact_email") or "",
            "profile": values.get("profile") or "B",
            "profession": values.get("profession") or "",
            "false": False,
        },
    )
    return True


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "controller",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("org_number", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("profile", sa.String(length=1), nullable=False),
        sa.Column("profession", sa.String(length=60), nullable=False),
        sa.Column("id_number_mode", sa.String(length=16), nullable=False),
        sa.Column("id_number_reason", sa.Text(), nullable=False),
        sa.Column("runs_newsletter", sa.Boolean(), nullable=False),
        sa.Column("representative_months", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "id_number_mode in ('full', 'birth_date', 'none')",
            name=op.f("ck_controller_known_id_number_mode"),
        ),
        sa.CheckConstraint("profile in ('A', 'B')", name=op.f("ck_controller_known_profile")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_controller")),
        sqlite_autoincrement=True,
    )
    bind = op.get_bind()
    has_first = _first_controller(bind)

    for table in OWNED:
        with op.batch_alter_table(table, schema=None, table_kwargs=KEEP) as batch_op:
            batch_op.add_column(sa.Column("controller_id", sa.Integer(), nullable=True))
        if has_first:
            op.execute(sa.text(f"UPDATE {table} SET controller_id = 1"))
        with op.batch_alter_table(table, schema=None, table_kwargs=KEEP) as batch_op:
            batch_op.alter_column("controller_id", existing_type=sa.Integer(), nullable=False)
            batch_op.create_index(
                batch_op.f(f"ix_{table}_controller_id"), ["controller_id"], unique=False
            )
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_controller_id_controller"),
                "controller",
                ["controller_id"],
                ["id"],
                ondelete="RESTRICT",
            )

    with op.batch_alter_table("person", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_person_birth_date"), ["birth_date"], unique=False)

    with op.batch_alter_table("user_account", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column("controller_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_user_account_controller_id_controller"),
            "controller",
            ["controller_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "representation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("representative_id", sa.Integer(), nullable=False),
        sa.Column("controller_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("legal_basis", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind in ('guardian', 'god_man', 'forvaltare', 'power_of_attorney', 'payer', "
            "'company_contact')",
            name=op.f("ck_representation_known_kind"),
        ),
        sa.CheckConstraint(
            "client_id <> representative_id", name=op.f("ck_representation_not_self")
        ),
        sa.CheckConstraint(
            "valid_until is null or valid_until >= valid_from",
            name=op.f("ck_representation_ends_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["person.id"],
            name=op.f("fk_representation_client_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["representative_id"],
            ["person.id"],
            name=op.f("fk_representation_representative_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["controller_id"],
            ["controller.id"],
            name=op.f("fk_representation_controller_id_controller"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_representation_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_representation")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("representation", schema=None, table_kwargs=KEEP) as batch_op:
        for column in ("client_id", "representative_id", "controller_id"):
            batch_op.create_index(batch_op.f(f"ix_representation_{column}"), [column], unique=False)

    with op.batch_alter_table("data_request", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column("requester_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("representation_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_data_request_requester_id"), ["requester_id"])
        batch_op.create_index(
            batch_op.f("ix_data_request_representation_id"), ["representation_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_data_request_requester_id_person"),
            "person",
            ["requester_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_data_request_representation_id_representation"),
            "representation",
            ["representation_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("practice_settings", schema=None, table_kwargs=KEEP) as batch_op:
        for name, _type in MOVED:
            batch_op.drop_column(name)


def downgrade() -> None:
    """Revert this revision: the first controller's facts go back to the settings row."""
    with op.batch_alter_table("practice_settings", schema=None, table_kwargs=KEEP) as batch_op:
        for name, type_ in MOVED:
            batch_op.add_column(sa.Column(name, type_, nullable=False, server_default=""))
    for name, _type in MOVED:
        op.execute(
            sa.text(
                f"UPDATE practice_settings SET {name} = COALESCE((SELECT {name} FROM controller "
                "WHERE id = (SELECT MIN(id) FROM controller)), '')"
            )
        )
    op.execute(sa.text("UPDATE practice_settings SET profile = 'B' WHERE profile = ''"))
    with op.batch_alter_table("practice_settings", schema=None, table_kwargs=KEEP) as batch_op:
        for name, type_ in MOVED:
            batch_op.alter_column(name, existing_type=type_, server_default=None)

    with op.batch_alter_table("data_request", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_data_request_representation_id_representation"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_data_request_requester_id_person"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_data_request_representation_id"))
        batch_op.drop_index(batch_op.f("ix_data_request_requester_id"))
        batch_op.drop_column("representation_id")
        batch_op.drop_column("requester_id")
    op.drop_table("representation")

    with op.batch_alter_table("user_account", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_user_account_controller_id_controller"), type_="foreignkey"
        )
        batch_op.drop_column("controller_id")

    with op.batch_alter_table("person", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_birth_date"))
        batch_op.drop_column("birth_date")

    for table in OWNED:
        with op.batch_alter_table(table, schema=None, table_kwargs=KEEP) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_controller_id_controller"), type_="foreignkey"
            )
            batch_op.drop_index(batch_op.f(f"ix_{table}_controller_id"))
            batch_op.drop_column("controller_id")
    op.drop_table("controller")
