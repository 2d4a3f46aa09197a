"""SQLAlchemy 2 base, column aliases, and the per-app engine and session.

The session is bound to the Flask application context (``flask.g``), so views, services,
the CLI and plugins share one unit of work per request or command without module globals.
"""

from __future__ import annotations

import datetime as dt
import secrets
import typing as t
import uuid

import sqlalchemy as sa
from flask import current_app
from flask import g
from flask import has_app_context
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import sessionmaker
from werkzeug.local import LocalProxy

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class TZDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: t.Any) -> t.Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to TZDateTime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: t.Any, dialect: t.Any) -> dt.datetime | None:
        if value is None:
            return None
        return t.cast(dt.datetime, value).replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    """A random, URL-safe primary key: ids never reveal counts or order."""
    return uuid.uuid4().hex


def public_id(prefix: str) -> str:
    """A random identifier with a readable type prefix (``org_...``, ``con_...``)."""
    return f"{prefix}_{secrets.token_urlsafe(12).replace('-', 'x').replace('_', 'y')}"


JSONDict = dict[str, t.Any]
pk = t.Annotated[str, mapped_column(sa.String(40), primary_key=True, default=new_id)]
created_at = t.Annotated[dt.datetime, mapped_column(TZDateTime, default=utcnow)]


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: TZDateTime,
        JSONDict: sa.JSON,
        list[str]: sa.JSON,
        str: sa.String(255),
    }


class RowMetadata:
    """``Model.metadata``: SQLAlchemy's table catalog on the class, the row's own free-form
    metadata on an instance.

    Declarative models keep the catalog in the class attribute ``metadata``, so
    ``organization.metadata`` used to return a ``MetaData`` object that crashed whatever
    serialized it. On an instance this descriptor reads (and assigns) the row's metadata
    through ``read``/``write``, or raises an :class:`AttributeError` naming the right
    attribute for rows that have several (users) or none.
    """

    def __init__(
        self,
        catalog: sa.MetaData,
        read: t.Callable[[t.Any], dict[str, t.Any]] | None = None,
        write: t.Callable[[t.Any, dict[str, t.Any]], None] | None = None,
        hint: str = "",
    ) -> None:
        self.catalog, self.read, self.write, self.hint = catalog, read, write, hint

    def __get__(self, row: t.Any, owner: type | None = None) -> t.Any:
        if row is None:
            return self.catalog
        if self.read is None:
            raise AttributeError(self._refusal(row))
        return dict(self.read(row) or {})

    def __set__(self, row: t.Any, value: t.Mapping[str, t.Any]) -> None:
        if self.write is None:
            raise AttributeError(self._refusal(row))
        if not isinstance(value, t.Mapping):
            raise TypeError(f"{type(row).__name__}.metadata must be a mapping")
        self.write(row, dict(value))

    def _refusal(self, row: t.Any) -> str:
        return f"{type(row).__name__} has no 'metadata'" + (f": {self.hint}" if self.hint else "")


def row_metadata(
    model: type,
    read: t.Callable[[t.Any], dict[str, t.Any]] | None = None,
    write: t.Callable[[t.Any, dict[str, t.Any]], None] | None = None,
    hint: str = "",
) -> None:
    """Give ``model`` instances a ``metadata`` attribute (see :class:`RowMetadata`)."""
    model.metadata = RowMetadata(Base.registry.metadata, read, write, hint)


CONNECT_TIMEOUT = 5
"""Seconds to wait for a PostgreSQL connection before the request answers 503."""


def database_problem(exc: BaseException) -> str:
    """The first line of the driver's message (no SQL, no parameters, no password)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


SQLITE_CACHE_MIB = 64
"""Pages each SQLite connection keeps, by default (``FOYER_SQLITE_CACHE_MIB``; SQLite's own
default is 2 MiB). With a million users, 2 MiB made every lookup read the upper levels of
the indexes from the file again (0.1 ms a statement instead of 0.01) and the searches cost
up to 1.8x what they cost on a small database. SQLite empties the cache when another
connection has written, so it helps most between writes."""


class Database:
    """The engine and session factory of one app, kept in ``app.extensions['foyer.db']``."""

    def __init__(self, url: str, sqlite_cache_mib: int = SQLITE_CACHE_MIB) -> None:
        # statements may be logged (sqlalchemy.engine at INFO), their parameters never: they
        # hold session ids, password and token hashes, addresses
        kwargs: dict[str, t.Any] = {"hide_parameters": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
            if url.startswith("postgresql"):
                kwargs["connect_args"] = {
                    "connect_timeout": CONNECT_TIMEOUT,  # an unreachable host fails in seconds
                    # every statement is a short indexed lookup, but a LIMIT over a large
                    # table is estimated as a full scan and would be JIT-compiled first
                    # (about 180 ms of the server's CPU per statement at 100,000 rows)
                    "options": "-c jit=off",
                }
        self.url = url
        self.engine = sa.create_engine(url, **kwargs)
        self.counters_engine = sa.create_engine(
            counters_url(url), isolation_level="AUTOCOMMIT", **kwargs
        )
        """The shared counters' (:mod:`app.security.counters`): a pool of its own whose
        connections commit each statement by themselves, a count that must stand whatever
        the request does next, with no BEGIN and COMMIT around it (on PostgreSQL one round
        trip instead of three); on SQLite in a file of its own (:func:`counters_url`)."""
        self.counters_apart = self.counters_engine.url != self.engine.url
        """Whether the counters live in a database of their own."""
        if url.startswith("sqlite"):
            pragmas = _sqlite_pragmas(sqlite_cache_mib)
            event.listen(self.engine, "connect", pragmas)
            event.listen(self.counters_engine, "connect", pragmas)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    def dispose(self) -> None:
        self.engine.dispose()
        self.counters_engine.dispose()


def counters_url(url: str) -> sa.URL:
    """Where the shared counters (rate limits, attack protection) are kept: in the database
    itself, except beside an SQLite file, in a file of their own (``foyer.db``:
    ``foyer-counters.db``).

    Nearly every request counts, and a write to an SQLite file empties the page cache of
    every other connection to it at its next read: counted in the same file, each request's
    reads started cold, and at a million users the searches cost 1.4x what they cost at a
    hundred. The counters hold windows of minutes: the file needs no backup, and a missing
    one starts empty."""
    parsed = sa.make_url(url)
    name = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or name in ("", ":memory:") or parsed.query:
        return parsed  # no file (an in-memory database), or a URI of SQLite's own
    if name.startswith("file:"):
        return parsed
    stem, dot, suffix = name.rpartition(".")
    if not dot or "/" in suffix:
        return parsed.set(database=f"{name}-counters")
    return parsed.set(database=f"{stem}-counters.{suffix}")


def _sqlite_pragmas(cache_mib: int) -> t.Callable[[t.Any, t.Any], None]:
    def on_connect(dbapi_connection: t.Any, _record: t.Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")  # negative: KiB
        cursor.close()

    return on_connect


def get_database() -> Database:
    return t.cast(Database, current_app.extensions["foyer.db"])


def _get_session() -> Session:
    if "db_session" not in g:
        g.db_session = get_database().sessionmaker()
    return t.cast(Session, g.db_session)


session: Session = t.cast(Session, LocalProxy(_get_session))
"""The current app context's session; closed when the context ends."""


def sqlite_write_holder() -> Session | None:
    """The app context's session when it holds SQLite's one write lock, else None.

    A write through another connection would wait for that lock until the request ends:
    code that must write on its own (events, counters) writes through this session then.
    """
    main = g.get("db_session") if has_app_context() else None
    if main is None or not main.in_transaction():
        return None
    if get_database().engine.dialect.name != "sqlite":
        return None
    try:
        dbapi = main.connection().connection.dbapi_connection
    except Exception:
        return None
    return main if getattr(dbapi, "in_transaction", False) else None


def core_execute(
    statement: sa.Executable, params: t.Mapping[str, t.Any] | None = None
) -> sa.CursorResult[t.Any]:
    """Run a Core statement in the current transaction, without the ORM.

    For the token endpoint's rows that no object in the session holds (codes, token
    families, refresh tokens, events): there the ORM's work around a statement (bulk-insert
    bookkeeping, UPDATE synchronization, loading instances) costs several times the SQL.
    Pending ORM changes are not flushed first; nothing on those paths depends on them.
    """
    return session.connection().execute(statement, params)


def close_session(_exc: BaseException | None = None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()
