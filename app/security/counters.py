"""Counters every worker and host shares: rate limits and attack-protection figures.

A counter is a number with the end of its window. In Redis (FOYER_REDIS_URL) one Lua
script per operation; without Redis, a row of the ``counter`` table changed by one atomic
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (SQLite and PostgreSQL), committed by
itself. Never a count in a worker's memory: two gunicorn workers, or two hosts, see the
same number.

The caller passes the time (``now``, seconds since the epoch), and windows end at times
stored with the count rather than by Redis' own expiry, so a test's clock drives both
backends. When Redis cannot be reached, :class:`FailoverCounters` answers from the
database for :data:`RETRY_SECONDS` (short socket deadlines: a request never hangs) and
:data:`storage_unavailable` is sent once, so the app records an event.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
import typing as t

import blinker
import sqlalchemy as sa
from flask import current_app
from flask import has_app_context
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.schema import CreateIndex
from sqlalchemy.schema import CreateTable

from app.db import Base
from app.db import sqlite_write_holder

if t.TYPE_CHECKING:
    import redis

    from app.db import Database

log = logging.getLogger(__name__)
R = t.TypeVar("R")

REDIS_TIMEOUT = 0.25
"""Seconds to connect to Redis, and to wait for one answer, before counting elsewhere."""

RETRY_SECONDS = 30.0
"""After a Redis failure, how long a process counts in the database before trying again."""

SWEEP_SECONDS = 60.0
"""How often a process deletes the database's counters whose window ended."""

storage_unavailable = blinker.Signal(
    """Sent with the app as sender and ``backend``, ``error`` when the shared counter storage
    (Redis) fails and counting moves to the database; the app records an event."""
)


class CounterRow(Base):
    """One counter of :class:`DatabaseCounters` (rows past ``expires_at`` count as zero)."""

    __tablename__ = "counter"

    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer)
    expires_at: Mapped[float] = mapped_column(sa.Float, index=True)
    """End of the window, in seconds since the epoch."""


class Count(t.NamedTuple):
    value: int
    expires_at: float
    """End of the window (seconds since the epoch); 0.0 when nothing is counted."""


NOTHING = Count(0, 0.0)


class Counters(abc.ABC):
    """Shared counters. Every method takes the current time from its caller."""

    @abc.abstractmethod
    def add(
        self, key: str, window: float, now: float, amount: int = 1, *, extend: bool = False
    ) -> Count:
        """Add ``amount`` and return the new count. A count whose window ended starts again
        with a window of ``window`` seconds; ``extend`` restarts the window at every add (a
        run of events with no pause as long as the window)."""

    @abc.abstractmethod
    def charge(self, key: str, seconds: float, now: float) -> Count:
        """A bucket that drains in real time: add ``seconds`` to what is left of it and
        return the count of charges since it was last empty and the time it will be empty
        (``expires_at``). What is left at ``now`` is ``expires_at - now``."""

    @abc.abstractmethod
    def peek(self, key: str, now: float) -> Count:
        """The count, or :data:`NOTHING` when its window ended."""

    @abc.abstractmethod
    def clear(self, *keys: str) -> None:
        """Forget these counts."""


# --- The database --------------------------------------------------------------------------

TABLE = t.cast(sa.Table, CounterRow.__table__)
PREVIOUS = TABLE.alias("previous")


def _statements(dialect: str) -> dict[str, sa.Executable]:
    """The counter statements of a dialect, built once: composing an upsert costs more than
    running it, and the token endpoint counts every request."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = sa.bindparam("now", type_=sa.Float)
    ends = sa.bindparam("ends", type_=sa.Float)
    amount = sa.bindparam("amount", type_=sa.Integer)
    ended = TABLE.c.expires_at <= now
    running = TABLE.c.expires_at > now

    def upsert(first_count: t.Any, **changes: t.Any) -> t.Any:
        return (
            insert(TABLE)
            .values(key=sa.bindparam("key"), count=first_count, expires_at=ends)
            .on_conflict_do_update(index_elements=[TABLE.c.key], set_=changes)
            .returning(TABLE.c.count, TABLE.c.expires_at)
        )

    add = upsert(
        amount,
        count=sa.case((ended, amount), else_=TABLE.c.count + amount),
        expires_at=sa.case((ended, ends), else_=TABLE.c.expires_at),
    )
    other = (
        sa.select(PREVIOUS.c.count)
        .where(PREVIOUS.c.key == sa.bindparam("other"), PREVIOUS.c.expires_at > now)
        .scalar_subquery()
    )
    return {
        "add": add,
        "add_extend": upsert(
            amount,
            count=sa.case((ended, amount), else_=TABLE.c.count + amount),
            expires_at=ends,
        ),
        "add_beside": add.returning(other.label("other")),
        "charge": upsert(
            1,
            count=sa.case((running, TABLE.c.count + 1), else_=1),
            expires_at=sa.case(
                (running, TABLE.c.expires_at + sa.bindparam("seconds", type_=sa.Float)),
                else_=ends,
            ),
        ),
        "peek": sa.select(TABLE.c.count, TABLE.c.expires_at).where(
            TABLE.c.key == sa.bindparam("key")
        ),
    }


class DatabaseCounters(Counters):
    """Counters in the ``counter`` table, each change one atomic statement.

    A change commits by itself, at once (on ``Database.counters_engine``), so a request
    that fails still counts. Beside an SQLite file the table is in a file of its own
    (:func:`app.db.counters_url`), created on first use; in one SQLite database without a
    file, while the request's own session holds the one write lock, a change goes through
    that session instead (another connection would wait for it).
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self.engine = database.counters_engine
        self.dialect = database.engine.dialect.name
        self.statements = _statements(self.dialect)
        self._swept = 0.0
        self._table_ready = not database.counters_apart
        """Whether the table is known to be there (the database's own is migrated)."""

    def add(
        self, key: str, window: float, now: float, amount: int = 1, *, extend: bool = False
    ) -> Count:
        values = {"key": key, "now": now, "ends": now + window, "amount": amount}
        count, ends = self._change("add_extend" if extend else "add", values)
        self._sweep(now)
        return Count(int(count), float(ends))

    def add_beside(
        self, key: str, window: float, now: float, amount: int, other: str
    ) -> tuple[Count, int]:
        """:meth:`add`, and in the same statement the count of the ``other`` key (0 when
        its window ended): a sliding window's current and previous windows in one round
        trip."""
        values = {"key": key, "now": now, "ends": now + window, "amount": amount, "other": other}
        count, ends, previous = self._change("add_beside", values)
        self._sweep(now)
        return Count(int(count), float(ends)), int(previous or 0)

    def charge(self, key: str, seconds: float, now: float) -> Count:
        values = {"key": key, "now": now, "ends": now + seconds, "seconds": seconds}
        count, ends = self._change("charge", values)
        self._sweep(now)
        return Count(int(count), float(ends))

    def _change(self, name: str, values: dict[str, t.Any]) -> t.Sequence[t.Any]:
        """Run one counting statement (committed by itself); the one row it returns."""
        holder = self._write_holder()
        if holder is not None:
            row = holder.connection().execute(self.statements[name], values).one()
            return t.cast(t.Sequence[t.Any], row)
        with self._connect() as connection:
            row = connection.execute(self.statements[name], values).one()
        return t.cast(t.Sequence[t.Any], row)

    def peek(self, key: str, now: float) -> Count:
        with self._connect() as connection:
            row = connection.execute(self.statements["peek"], {"key": key}).first()
        if row is None or row.expires_at <= now:
            return NOTHING
        return Count(int(row.count), float(row.expires_at))

    def clear(self, *keys: str) -> None:
        if keys:
            self._write(TABLE.delete().where(TABLE.c.key.in_(keys)))

    def clear_all(self) -> None:
        """Forget every count (the ``limits`` storage's ``reset``)."""
        self._write(TABLE.delete())

    def _write(self, statement: sa.Executable) -> None:
        """Run one deletion (rare: a sign-in clearing its failures, the sweep)."""
        holder = self._write_holder()
        if holder is not None:
            holder.connection().execute(statement)
            return
        with self._connect() as connection:
            connection.execute(statement)

    def _write_holder(self) -> t.Any:
        """The request's session when it holds the write lock of the counters' database."""
        return None if self.database.counters_apart else sqlite_write_holder()

    def _connect(self) -> sa.Connection:
        """A connection of the counters' pool (each statement commits by itself), the
        table created first when it is in a file of its own (by every worker that starts
        at once: each creates it only if it is not there)."""
        connection = self.engine.connect()
        if not self._table_ready:
            try:
                connection.execute(CreateTable(TABLE, if_not_exists=True))
                for index in TABLE.indexes:
                    connection.execute(CreateIndex(index, if_not_exists=True))
            except BaseException:
                connection.close()
                raise
            self._table_ready = True
        return connection

    def _sweep(self, now: float) -> None:
        """Now and then, delete rows whose window ended (they already count as zero)."""
        if now - self._swept < SWEEP_SECONDS:
            return
        self._swept = now
        self._write(TABLE.delete().where(TABLE.c.expires_at <= now))


# --- Redis ---------------------------------------------------------------------------------

ADD = """
local fields = redis.call('HMGET', KEYS[1], 'n', 'e')
local now, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local n, e = tonumber(fields[1]), tonumber(fields[2])
if not e or e <= now then n = 0; e = now + window end
n = n + tonumber(ARGV[1])
if ARGV[4] == '1' then e = now + window end
redis.call('HSET', KEYS[1], 'n', n, 'e', string.format('%.17g', e))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((e - now) * 1000)))
return {n, string.format('%.17g', e)}
"""

CHARGE = """
local fields = redis.call('HMGET', KEYS[1], 'n', 'e')
local now, seconds = tonumber(ARGV[1]), tonumber(ARGV[2])
local n, e = tonumber(fields[1]), tonumber(fields[2])
if not e or e <= now then n = 0; e = now end
n = n + 1
e = e + seconds
redis.call('HSET', KEYS[1], 'n', n, 'e', string.format('%.17g', e))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((e - now) * 1000)))
return {n, string.format('%.17g', e)}
"""


class RedisCounters(Counters):
    """Counters as Redis hashes (``n``: the count, ``e``: the window's end); Redis' own
    expiry only frees the memory of counts already over."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._add = client.register_script(ADD)
        self._charge = client.register_script(CHARGE)

    def add(
        self, key: str, window: float, now: float, amount: int = 1, *, extend: bool = False
    ) -> Count:
        value, ends = self._add(
            keys=[self.prefix + key], args=[amount, repr(now), repr(window), int(extend)]
        )
        return Count(int(value), float(ends))

    def charge(self, key: str, seconds: float, now: float) -> Count:
        value, ends = self._charge(keys=[self.prefix + key], args=[repr(now), repr(seconds)])
        return Count(int(value), float(ends))

    def peek(self, key: str, now: float) -> Count:
        value, ends = self.client.hmget(self.prefix + key, ["n", "e"])
        if value is None or ends is None or float(ends) <= now:
            return NOTHING
        return Count(int(value), float(ends))

    def clear(self, *keys: str) -> None:
        if keys:
            self.client.delete(*(self.prefix + key for key in keys))


def redis_client(url: str) -> redis.Redis:
    """A client that gives up after :data:`REDIS_TIMEOUT` rather than hold a request."""
    import redis  # only deployments with FOYER_REDIS_URL need the package

    return redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT,
        socket_timeout=REDIS_TIMEOUT,
        retry_on_timeout=False,
        health_check_interval=30,
    )


# --- Redis, the database when it fails ------------------------------------------------------


class Breaker:
    """Whether this process should try Redis now: after a failure, not for
    :data:`RETRY_SECONDS` (so one request pays a timeout, not every request)."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.errors = redis_errors()
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        """True while Redis is believed reachable."""
        return time.monotonic() >= self._down_until

    def run(self, primary: t.Callable[[], R], fallback: t.Callable[[], R]) -> R:
        """``primary()`` (Redis) while it is believed reachable and answers, else
        ``fallback()`` (the database)."""
        if self.closed:
            try:
                return primary()
            except self.errors as error:
                self.failed(error)
        return fallback()

    def failed(self, error: BaseException) -> None:
        with self._lock:
            first = self.closed
            self._down_until = time.monotonic() + RETRY_SECONDS
        if first:
            log.warning("%s unreachable, counting in the database: %r", self.backend, error)
            if has_app_context():
                storage_unavailable.send(
                    current_app._get_current_object(),  # type: ignore[attr-defined]
                    backend=self.backend,
                    error=type(error).__name__,
                )


def redis_errors() -> tuple[type[BaseException], ...]:
    import redis  # only deployments with FOYER_REDIS_URL need the package

    return (redis.RedisError, OSError)


class FailoverCounters(Counters):
    """Redis, and the database while Redis fails (:attr:`degraded`)."""

    def __init__(self, primary: Counters, fallback: Counters, breaker: Breaker) -> None:
        self.primary = primary
        self.fallback = fallback
        self.breaker = breaker

    @property
    def degraded(self) -> bool:
        return not self.breaker.closed

    def _call(self, name: str, *args: t.Any, **kwargs: t.Any) -> t.Any:
        return self.breaker.run(
            lambda: getattr(self.primary, name)(*args, **kwargs),
            lambda: getattr(self.fallback, name)(*args, **kwargs),
        )

    def add(
        self, key: str, window: float, now: float, amount: int = 1, *, extend: bool = False
    ) -> Count:
        return t.cast(Count, self._call("add", key, window, now, amount, extend=extend))

    def charge(self, key: str, seconds: float, now: float) -> Count:
        return t.cast(Count, self._call("charge", key, seconds, now))

    def peek(self, key: str, now: float) -> Count:
        return t.cast(Count, self._call("peek", key, now))

    def clear(self, *keys: str) -> None:
        # in both: a count cleared while Redis was down must not come back with it
        self.breaker.run(lambda: self.primary.clear(*keys), lambda: None)
        self.fallback.clear(*keys)


def counters() -> Counters:
    """The app's counters (built by :func:`app.security.limits.init_limiter`)."""
    return t.cast(Counters, current_app.extensions["foyer.counters"])
