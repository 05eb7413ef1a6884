"""The public feed, served from a per-process cache that a generation row invalidates.

Why: the feed (``/embed/testimonials`` and ``.json``) is fetched on every view of the
practice's website, and building it decrypts and renders every published testimonial. Each
process keeps the feed it built last, keyed by the ``feed_generation`` row; every request
reads that row (one primary-key read) and builds anew only when it changed.

Correctness rests on one rule: every change that can alter the feed bumps the generation in
the same transaction as the change. That is done here, for every path at once, by watching
the session rather than by calling a bump from each service: a flush that adds, changes or
deletes a testimonial, a consent, a medium or a publication, renames or restricts a person
or deletes one, marks the session, and ``before_commit`` bumps the row. A withdrawal is thus
visible to the very next request in every worker (each reads the generation from the
database); nothing is served stale after the commit.

The generation is read before the feed is built, so a cached feed is never older than its
key: a change committed in between makes the next request build again.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from itertools import chain
from typing import TYPE_CHECKING
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session

from crm.db import insert_ignoring_duplicates
from crm.people.models import Person
from crm.testimonials.models import FeedGeneration
from crm.testimonials.models import Publication
from crm.testimonials.models import Testimonial
from crm.testimonials.models import TestimonialConsent
from crm.testimonials.models import TestimonialMedia

if TYPE_CHECKING:
    from crm.testimonials.publications import FeedItem

#: rows whose every change may alter the feed
FEED_MODELS = (Testimonial, TestimonialConsent, TestimonialMedia, Publication)
#: what of a person the feed depends on: the name as shown, and Art. 18 restriction
PERSON_FIELDS = ("name", "restricted_at")

_CHANGED = "crm.testimonials.feed_changed"
_EXTENSION = "crm.testimonials.feed"

_table = FeedGeneration.__table__
# built once: this runs on every feed request
_READ = select(_table.c.generation, _table.c.nonce).where(_table.c.id == 1)
_BUMP = update(_table).where(_table.c.id == 1)


def _affects_feed(session: Session) -> bool:
    """Tell whether the pending flush changes anything the feed shows."""
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, FEED_MODELS):
            return True
        if isinstance(obj, Person) and obj not in session.new:
            if obj in session.deleted:
                return True
            state = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in PERSON_FIELDS):
                return True
    return False


@event.listens_for(Session, "before_flush")
def _watch_flush(session: Session, _context: Any, _instances: Any) -> None:
    if not session.info.get(_CHANGED) and _affects_feed(session):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _watch_bulk(state: ORMExecuteState) -> None:
    """ORM bulk UPDATE/DELETE statements bypass the flush; they mark the session too."""
    if not (state.is_update or state.is_delete):
        return
    for mapper in state.all_mappers:
        if mapper.class_ in FEED_MODELS or mapper.class_ is Person:
            state.session.info[_CHANGED] = True


@event.listens_for(Session, "before_commit")
def _bump_before_commit(session: Session) -> None:
    """Bump the generation in the committing transaction if it changed the feed."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # commit flushes after this hook; the watcher must see it now
    if session.info.pop(_CHANGED, False):
        bump(session)


def bump(session: Session) -> None:
    """Move the feed to a new generation, in the session's transaction."""
    connection = session.connection()
    nonce = secrets.token_hex(8)
    values = {"generation": _table.c.generation + 1, "nonce": nonce}
    if connection.execute(_BUMP.values(values)).rowcount:
        return
    # no row yet (a database emptied by hand): create it; a racing creator wins, then bump
    if not insert_ignoring_duplicates(session, _table, {"id": 1, "generation": 1, "nonce": nonce}):
        connection.execute(_BUMP.values(values))


def generation(session: Session) -> tuple[int, str] | None:
    """Return the current generation and its nonce (None: no row, so nothing is cached)."""
    row = session.connection().execute(_READ).first()
    return None if row is None else (row[0], row[1])


@dataclass(frozen=True)
class Medium:
    """A file in the feed, as plain values (cached across requests and sessions)."""

    kind: str
    mime: str
    stored_name: str


@dataclass(frozen=True)
class Item:
    """One testimonial in the feed, as plain values."""

    id: str
    text: str | None
    name: str
    media: tuple[Medium, ...]


@dataclass
class Snapshot:
    """The feed at one generation, and the bodies rendered from it so far."""

    key: tuple[int, str] | None
    items: tuple[Item, ...]
    media_names: frozenset[str]
    bodies: dict[str, tuple[bytes, str]] = field(default_factory=dict)

    def body(self, variant: str, render: Callable[[tuple[Item, ...]], bytes]) -> tuple[bytes, str]:
        """Return a rendered body and its ETag, rendering it once per generation."""
        found = self.bodies.get(variant)
        if found is None:
            data = render(self.items)
            found = (data, hashlib.sha256(data).hexdigest()[:32])
            self.bodies[variant] = found
        return found


def snapshot(session: Session, build: Callable[[Session], list[FeedItem]]) -> Snapshot:
    """Return the feed as of now: from this process's cache when the generation is unchanged."""
    key = generation(session)  # first: a feed built after this read is never older than it
    store = current_app.extensions.setdefault(_EXTENSION, {})
    cached: Snapshot | None = store.get("snapshot")
    if key is not None and cached is not None and cached.key == key:
        return cached
    items = tuple(
        Item(
            id=item.id,
            text=item.text,
            name=item.name,
            media=tuple(Medium(m.kind, m.mime, m.stored_name) for m in item.media),
        )
        for item in build(session)
    )
    fresh = Snapshot(key, items, frozenset(m.stored_name for i in items for m in i.media))
    if key is not None:
        store["snapshot"] = fresh
    return fresh


# --- the fast path: a cached answer without entering Flask -----------------------------------

#: what a request must look like for the fast path; anything else goes through Flask
FEED_PATHS = {"/embed/testimonials": "html", "/embed/testimonials.json": "json"}
#: request headers whose presence sends a request through Flask (cookies may carry a
#: language or a login; conditional and range requests are Flask's to answer)
_PASS_THROUGH = ("HTTP_COOKIE", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_RANGE")
#: set by the feed views on the WSGI environ: the generation and body variant they answered
ENVIRON_KEY = "crm.feed.key"
ENVIRON_VARIANT = "crm.feed.variant"
_GENERATION_SQL = "SELECT generation, nonce FROM feed_generation WHERE id = 1"


@dataclass(frozen=True)
class _Replay:
    """A whole answer Flask gave (status, headers after every hook, body) at one generation."""

    key: tuple[int, str]
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class FastPath:
    """WSGI middleware: the feed's plain GETs answered from memory, Flask skipped.

    Why: under load the feed's time went to Flask's request machinery, the session and the
    SQLAlchemy connection handling, not to the feed. A cookie-less GET without conditions
    (what a website visitor's browser sends) is answered with exactly the status, headers
    and body Flask gave for the same request at the same generation - security headers
    included, since they are captured after every hook ran. The generation is read for every
    request with one statement on a connection this thread keeps, so a withdrawal committed
    by any worker is honoured by the very next request here. Anything else, and any miss or
    database hiccup, goes through Flask as before.
    """

    def __init__(self, app: Any, wsgi_app: Callable[..., Any]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.replays: dict[str, _Replay] = {}
        self._local = threading.local()
        self._held: list[Any] = []
        self._lock = threading.Lock()
        engine = app.extensions["crm.db"]["engine"]
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def _variant(self, environ: dict[str, Any]) -> str | None:
        kind = FEED_PATHS.get(environ.get("PATH_INFO", ""))
        if (
            kind is None
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or any(environ.get(h) for h in _PASS_THROUGH)
        ):
            return None
        # without a cookie the language is the default one (crm.i18n.select_locale)
        return "json" if kind == "json" else f"html:{self.app.config['BABEL_DEFAULT_LOCALE']}"

    def generation(self) -> tuple[int, str] | None:
        """Read the generation on this thread's own connection; None when it cannot."""
        for _attempt in range(2):
            connection = getattr(self._local, "connection", None)
            try:
                if connection is None:
                    connection = self._connect()
                cursor = connection.cursor()
                try:
                    cursor.execute(_GENERATION_SQL)
                    row = cursor.fetchone()
                finally:
                    cursor.close()
            except Exception:  # noqa: BLE001 - a lost connection: drop it, try once more
                self._drop(connection)
                continue
            return None if row is None else (int(row[0]), str(row[1]))
        return None

    def _connect(self) -> Any:
        engine = self.app.extensions["crm.db"]["engine"]
        connection = engine.raw_connection()  # checked out for good by this thread
        if engine.dialect.name == "postgresql":
            # each read its own statement: no transaction left open between requests
            connection.driver_connection.autocommit = True
        self._local.connection = connection
        with self._lock:
            self._held.append(connection)
        return connection

    def _drop(self, connection: Any) -> None:
        self._local.connection = None
        if connection is None:
            return
        with self._lock:
            if connection in self._held:
                self._held.remove(connection)
        try:
            connection.invalidate()
        except Exception:  # noqa: BLE001, S110 - it is being thrown away anyway
            pass

    def close(self) -> None:
        """Give back every held connection (the app's engine is being disposed)."""
        with self._lock:
            held, self._held = self._held, []
        for connection in held:
            try:
                # closed for real, never handed back: on PostgreSQL it was put in autocommit
                connection.invalidate()
            except Exception:  # noqa: BLE001, S110 - closing a connection already gone
                pass
        self._local = threading.local()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Answer from memory when the request and the generation allow it, else via Flask."""
        variant = self._variant(environ)
        if variant is None:
            return self.wsgi_app(environ, start_response)
        replay = self.replays.get(variant)
        if replay is not None and replay.key == self.generation():
            start_response(replay.status, list(replay.headers))
            return [replay.body]
        return self._capture(environ, start_response)

    def _capture(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Let Flask answer, and keep its answer if it is a feed at a known generation."""
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, list(headers)
            return start_response(status, headers, exc_info)

        body = b"".join(self.wsgi_app(environ, capture))
        key, variant = environ.get(ENVIRON_KEY), environ.get(ENVIRON_VARIANT)
        if (
            key is not None
            and variant is not None
            and variant == self._variant(environ)
            and seen.get("status", "").startswith("200")
            and not any(name.lower() == "set-cookie" for name, _ in seen["headers"])
        ):
            self.replays[variant] = _Replay(key, seen["status"], seen["headers"], body)
        return [body]


def install(app: Any) -> None:
    """Put the fast path in front of ``app`` (once)."""
    if not isinstance(app.wsgi_app, FastPath):
        app.wsgi_app = FastPath(app, app.wsgi_app)
