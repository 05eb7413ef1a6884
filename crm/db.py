"""Database kernel: the typed declarative Base, one engine and session factory per app.

SQLite is opened with WAL, foreign keys and a busy timeout so that it behaves like PostgreSQL
for everything the app relies on (referential integrity, concurrent readers during a write).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar
from typing import Self
from typing import cast

from flask import Flask
from flask import current_app
from flask import g
from sqlalchemy import Connection
from sqlalchemy import DateTime
from sqlalchemy import Engine
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import Table
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy.engine import CursorResult
from sqlalchemy.engine import Result
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.orm import sessionmaker
from sqlalchemy.types import TypeDecorator

from crm.fsutil import prepare_sqlite_file
from crm.fsutil import private_fd

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 10_000


def system_clock() -> datetime:
    """The real time, aware UTC."""
    return datetime.now(UTC)


#: Where :func:`utcnow` reads the time. Always the system clock in the app; tests move it
#: (tests/timetravel.py) to prove retention periods on a database moved forward in time,
#: column defaults included, without sleeping.
clock = system_clock


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (the only kind the app stores)."""
    return clock()


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC and always hand back aware UTC datetimes.

    SQLite has no time zone type and drops tzinfo; without this, comparisons between stored
    and fresh values would raise or, worse, silently compare local and UTC times.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Refuse naive datetimes and normalise aware ones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use crm.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Attach UTC to values SQLite returns without a time zone."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base for every model; constraint names follow one convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    if TYPE_CHECKING:
        # SQLAlchemy types it as any FromClause (a class may map a subquery); every model here
        # maps a Table, which Core's insert()/update() and bulk_insert() need
        # (sqlalchemy/orm/decl_api.py, DeclarativeBase.__table__)
        __table__: ClassVar[Table]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Map the model, then make sure its table never hands out an id twice."""
        super().__init_subclass__(**kwargs)
        table = cls.__dict__.get("__table__")
        if isinstance(table, Table):
            never_reuse_ids(table)


def never_reuse_ids(table: Table) -> None:
    """Give a table with an integer id ``AUTOINCREMENT`` on SQLite.

    Why: without it SQLite hands out max(id) + 1, so after the newest person is erased the next
    one gets the same id and inherits everything that still points at it by id - the audit
    trail, an outbox operation, a request's list of operations, a link in an old mail
    (issue 11, finding 4). ``AUTOINCREMENT`` keeps the highest id ever used in
    ``sqlite_sequence`` (https://www.sqlite.org/autoinc.html); PostgreSQL sequences never go
    back anyway. Applied here, once, so no model (today's or a future one) can forget it; the
    migration 20261202_0900_5e1f0c2a7b3d rebuilt the existing tables.
    """
    key = list(table.primary_key.columns)
    if len(key) == 1 and isinstance(key[0].type, Integer):
        table.dialect_options["sqlite"]["autoincrement"] = True


def _configure_sqlite(engine: Engine) -> None:
    """Turn on WAL, foreign keys and a busy timeout on every new SQLite connection."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class _WriterLockedConnection(sqlite3.Connection):
    """A SQLite connection that queues writers on a file lock instead of SQLite's busy handler.

    Why: SQLite lets one writer in at a time and makes the others poll, sleeping 1, 2, 5, 10
    ... up to 100 ms between tries. Under steady concurrent writes (gunicorn workers taking
    one-click unsubscribes) waiters oversleep, throughput collapses and latencies reach
    seconds. A blocking ``flock`` on ``<database>.writelock``, taken just before the first
    write of a transaction and released right after its commit or rollback, wakes the next
    writer at once. Readers never take it. Every process of the app goes through it.
    """

    lock_path: str = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock_fd: int | None = None

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        """Return a cursor that takes the writer lock before its first write."""
        return super().cursor(factory or _WriterLockedCursor)

    def acquire_writer_lock(self) -> None:
        """Wait until this connection is the only writer (idempotent).

        Polls every millisecond up to the busy timeout, then raises like SQLite would, so a
        writer that never commits cannot hang the others forever.
        """
        if self._lock_fd is not None or not self.lock_path:
            return
        fd = private_fd(self.lock_path, os.O_RDWR)
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(0.001)
        self._lock_fd = fd

    def release_writer_lock(self) -> None:
        """Let the next writer in."""
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def commit(self) -> None:
        """Commit, then release the writer lock."""
        try:
            super().commit()
        finally:
            self.release_writer_lock()

    def rollback(self) -> None:
        """Roll back, then release the writer lock."""
        try:
            super().rollback()
        finally:
            self.release_writer_lock()

    def close(self) -> None:
        """Close, releasing the writer lock if still held."""
        try:
            super().close()
        finally:
            self.release_writer_lock()


class _WriterLockedCursor(sqlite3.Cursor):
    def _guard(self, sql: str) -> None:
        if sql.lstrip()[:7].upper().startswith(_WRITES):
            self.connection.acquire_writer_lock()  # type: ignore[attr-defined]

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        self._guard(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Self:
        self._guard(sql)
        return super().executemany(sql, parameters)


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the settings the app relies on."""
    if url.startswith("sqlite"):
        # None for "sqlite://" (in memory); a file: URI is left to SQLite
        path = make_url(url).database
        connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        if path and path != ":memory:" and not path.startswith("file:"):
            # Owner-only before SQLite creates it: its -wal/-shm files copy this file's mode.
            prepare_sqlite_file(path)
            factory = type(
                "WriterLockedConnection",
                (_WriterLockedConnection,),
                {"lock_path": f"{path}.writelock"},
            )
            connect_args["factory"] = factory
        engine = create_engine(url, connect_args=connect_args)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def init_app(app: Flask) -> None:
    """Build the app's engine and session factory and close the session at teardown."""
    engine = make_engine(app.config["DATABASE_URL"])
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    app.extensions["crm.db"] = {"engine": engine, "sessionmaker": factory}
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    """Return the current app's engine."""
    return current_app.extensions["crm.db"]["engine"]


def get_session() -> Session:
    """Return the session of the current app context, opening it on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["crm.db"]["sessionmaker"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    """Roll back anything uncommitted and close the app context's session."""
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()


# --- files deleted only once the transaction that stops needing them commits -------------------

_FILES_KEY = "crm.delete_after_commit"
_log = logging.getLogger(__name__)


def delete_file_after_commit(session: Session, path: Path) -> None:
    """Delete ``path`` when ``session``'s transaction commits; keep it if it rolls back.

    Every path that deletes a file some row points at (a testimonial's media on delete,
    revocation, erasure and retention) goes through here. Deleting first and committing
    after meant a crash or rollback in between left a row, even a published testimonial,
    whose file was gone. Now the worst case is the reverse: a file nobody points at any more.
    A savepoint rolled back takes its own queued files with it.
    """
    if not session.in_transaction():
        session.begin()  # so that closing the session without a commit forgets the queue
    queue: list[tuple[SessionTransaction | None, Path]] = session.info.setdefault(_FILES_KEY, [])
    queue.append((session.get_nested_transaction(), path))


@event.listens_for(Session, "after_commit")
def _delete_queued_files(session: Session) -> None:
    """Delete the queued files once the outermost transaction has committed.

    SQLAlchemy also fires this event when a savepoint is released; that commits nothing yet.
    """
    if session.in_nested_transaction():
        return
    for _savepoint, path in session.info.pop(_FILES_KEY, []):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            # the commit stands; the name is random, never personal data
            _log.exception("could not delete the file %s after commit", path.name)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back_files(session: Session, previous: SessionTransaction) -> None:
    """Keep the files of a rolled-back savepoint (and of savepoints inside it)."""
    if not previous.nested:
        return
    queue = session.info.get(_FILES_KEY)
    if queue:
        queue[:] = [(sp, path) for sp, path in queue if not _within(sp, previous)]


@event.listens_for(Session, "after_transaction_end")
def _forget_uncommitted_files(session: Session, transaction: SessionTransaction) -> None:
    """The outermost transaction ended without a commit (rollback, close): keep every file."""
    if transaction.parent is None:
        session.info.pop(_FILES_KEY, None)


def _within(savepoint: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while savepoint is not None:
        if savepoint is ancestor:
            return True
        savepoint = savepoint.parent
    return False


def bulk_insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows with one DBAPI executemany, converting each distinct value once.

    Why: SQLAlchemy runs every column's bind processor for every row; for an import of
    100,000 rows that conversion (mostly the same timestamp over and over) costs more than
    the database's own work. Here each column's processor runs once per distinct value, and
    the compiled statement goes straight to the driver, on SQLite and PostgreSQL alike.
    All rows must have the same keys.
    """
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name == "postgresql":
        _copy_rows(connection, table, rows)
        return
    columns = list(rows[0])
    compiled = table.insert().compile(dialect=dialect, column_keys=columns)
    if compiled.positiontup is not None:  # SQLite's qmark style: tuples in statement order
        order = list(compiled.positiontup)
        params: list[Any] = [tuple(v) for v in _converted(dialect, table, rows, order)]
    else:
        converted = _converted(dialect, table, rows, columns)
        params = [dict(zip(columns, v, strict=True)) for v in converted]
    connection.exec_driver_sql(compiled.string, params)


def _converted(
    dialect: Any, table: Table, rows: list[dict[str, Any]], order: list[str]
) -> Iterator[list[Any]]:
    """Each row's values in ``order``, ready for the driver.

    Each column's bind processor runs once per distinct value (see :func:`bulk_insert`).
    """
    processors = {name: table.c[name].type._cached_bind_processor(dialect) for name in order}
    needs = [
        (i, name, processor)
        for i, name in enumerate(order)
        if (processor := processors[name]) is not None
    ]
    memo: dict[tuple[str, Any], Any] = {}
    getter = itemgetter(*order)
    for row in rows:
        values = list(getter(row)) if len(order) > 1 else [getter(row)]
        for i, name, processor in needs:
            value = values[i]
            if value is not None:
                key = (name, value)
                if key not in memo:
                    memo[key] = processor(value)
                values[i] = memo[key]
        yield values


def _copy_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: stream the rows with COPY, several times faster than executemany."""
    columns = list(rows[0])
    names = ", ".join(connection.dialect.identifier_preparer.quote(c) for c in columns)
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is None:  # only after the connection was closed or invalidated
        raise RuntimeError("the database connection is closed")
    cursor = dbapi_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
        for values in _converted(connection.dialect, table, rows, columns):
            copy.write_row(values)


_INSERT_IGNORING: dict[tuple[str, Table], Any] = {}


def insert_ignoring_duplicates(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """Insert a row unless it would violate a unique constraint; tell whether it was inserted.

    ``INSERT ... ON CONFLICT DO NOTHING`` on both databases, so two requests racing to add
    the same row (two clicks on one unsubscribe link) both succeed and one row results. The
    statement is built once per dialect and table (it is on the unsubscribe hot path).
    """
    dialect = session.get_bind().dialect.name
    statement = _INSERT_IGNORING.get((dialect, table))
    if statement is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            statement = postgresql.insert(table).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects import sqlite

            statement = sqlite.insert(table).on_conflict_do_nothing()
        _INSERT_IGNORING[(dialect, table)] = statement
    result = session.connection().execute(statement, values)
    return bool(result.rowcount)


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run through ``Session.execute`` matched.

    For such statements the result is a CursorResult, but ``Session.execute`` is typed as
    returning the Result base class, which has no ``rowcount``
    (https://docs.sqlalchemy.org/en/20/tutorial/data_update.html#getting-affected-row-count-from-update-delete).
    """
    return cast(CursorResult[Any], result).rowcount or 0
