"""Person search keys: lower-cased name and last word, filled for every existing person.

Revision ID: 0f1ed8ae9a32
Revises: 2a7b415e51be
Create Date: 2026-11-22 14:25:24.932175+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0f1ed8ae9a32"
down_revision = "2a7b415e51be"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("surname_key", sa.String(length=200), nullable=True))
    person = sa.table(
        "person",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
        sa.column("surname_key", sa.String),
    )
    conn = op.get_bind()
    for person_id, name in conn.execute(sa.select(person.c.id, person.c.name)).all():
        lowered = (name or "").strip().lower()
        conn.execute(
            person.update()
            .where(person.c.id == person_id)
            .values(name_key=lowered, surname_key=lowered.rsplit(" ", 1)[-1])
        )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_name_key"), ["name_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_surname_key"), ["surname_key"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_surname_key"))
        batch_op.drop_index(batch_op.f("ix_person_name_key"))
        batch_op.drop_column("surname_key")
        batch_op.drop_column("name_key")
