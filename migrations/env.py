"""Alembic environment: migrates the database the app is configured for.

``crm init`` / ``crm run`` pass the URL in; a bare ``alembic upgrade head`` builds the app
to read ``CRM_DATABASE_URL`` and the instance config the same way the app does.
"""

from __future__ import annotations

from alembic import context

import crm.models  # noqa: F401 - registers every table on the metadata
from crm.db import Base
from crm.db import make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from crm import create_app

    return create_app().config["DATABASE_URL"]


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on a live connection, each in a transaction."""
    engine = make_engine(_url())
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a SQLite table by copying it and dropping the old one; with
            # foreign keys on, that DROP's implicit DELETE would cascade to every child row
            # (https://www.sqlite.org/lang_droptable.html; Alembic's batch docs, "Dealing
            # with Referencing Foreign Keys"). The pragma is ignored inside a transaction, so
            # it is set before one begins, and the keys are checked before committing.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
