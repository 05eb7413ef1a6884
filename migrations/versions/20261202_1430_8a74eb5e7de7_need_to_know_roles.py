"""Need-to-know roles: owner, practitioner, assistant, bookkeeping (issue 14 part 4).

- ``user_account.role``: the check constraint widens from ('owner', 'staff') to the four roles.
  Every 'staff' account becomes 'practitioner': staff read everything but users and settings
  until now, and a practitioner keeps the clients, health notes and journal, so nobody loses
  the access their work relies on by the upgrade alone. The owner then narrows an account to
  assistant or bookkeeping on the users page.
- ``setup_token``: an unused invitation for 'staff' becomes one for 'practitioner'; the role
  gets the same check constraint; ``controller_id`` is the controller an invited account is
  limited to (seed 000), chosen with the role when inviting.

Downgrade: practitioners become 'staff' again. Assistant and bookkeeping accounts have no
narrower equivalent in the old schema, so they become 'staff' *and are deactivated*, and their
unused invitations are voided: going back never widens what an account can read.

Every existing row is kept.

Revision ID: 8a74eb5e7de7
Revises: 7c4e1a9f3b62
Create Date: 2026-12-02 14:30:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "8a74eb5e7de7"
down_revision = "7c4e1a9f3b62"
branch_labels = None
depends_on = None

#: a SQLite table rebuilt by batch mode keeps AUTOINCREMENT only when told (20261202_0900)
KEEP = {"sqlite_autoincrement": True}

ROLES = "role in ('owner', 'practitioner', 'assistant', 'bookkeeping')"
OLD_ROLES = "role in ('owner', 'staff')"


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("user_account", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_user_account_known_role"), type_="check")
    op.execute(sa.text("UPDATE user_account SET role = 'practitioner' WHERE role = 'staff'"))
    op.execute(sa.text("UPDATE setup_token SET role = 'practitioner' WHERE role = 'staff'"))
    with op.batch_alter_table("user_account", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.create_check_constraint(batch_op.f("ck_user_account_known_role"), ROLES)

    with op.batch_alter_table("setup_token", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column("controller_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_setup_token_controller_id_controller"),
            "controller",
            ["controller_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(batch_op.f("ck_setup_token_known_role"), ROLES)


def downgrade() -> None:
    """Revert this revision (see the module docstring: nobody gains access by it)."""
    with op.batch_alter_table("setup_token", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_setup_token_known_role"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_setup_token_controller_id_controller"), type_="foreignkey"
        )
        batch_op.drop_column("controller_id")
    with op.batch_alter_table("user_account", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_user_account_known_role"), type_="check")
    op.execute(
        sa.text(
            "UPDATE user_account SET active = :false WHERE role IN ('assistant', 'bookkeeping')"
        ).bindparams(false=False)
    )
    op.execute(
        sa.text(
            "UPDATE user_session SET revoked_at = CURRENT_TIMESTAMP WHERE revoked_at IS NULL "
            "AND user_id IN (SELECT id FROM user_account "
            "WHERE role IN ('assistant', 'bookkeeping'))"
        )
    )
    op.execute(
        sa.text(
            "UPDATE setup_token SET used_at = CURRENT_TIMESTAMP WHERE used_at IS NULL "
            "AND role IN ('assistant', 'bookkeeping')"
        )
    )
    op.execute(sa.text("UPDATE user_account SET role = 'staff' WHERE role <> 'owner'"))
    op.execute(sa.text("UPDATE setup_token SET role = 'staff' WHERE role <> 'owner'"))
    with op.batch_alter_table("user_account", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.create_check_constraint(batch_op.f("ck_user_account_known_role"), OLD_ROLES)
