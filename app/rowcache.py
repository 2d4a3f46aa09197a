"""Per-process copies of the rows nearly every request reads: tenant domains (with their
tenant, and a vanity host's organization and connections) and clients; and facts the hosted
sign-in derives from such rows on every page (which password connection a tenant's page
offers, whether the tenant has organizations, which organization a connection serves alone).

Every request resolves its host to a tenant, and every authorize and token request loads a
client. These rows change a few times a day, yet loading them through the ORM costs about
as much as the rest of a discovery request. Each worker keeps a detached copy for
``cache_seconds`` (the same trust window as the signing-key cache) and merges it into the
request's session without a query, so views get ordinary session-bound objects: lazy
relationships load and changes flush as usual.

Changes made through this process's sessions clear the cache when they flush and when they
commit (a request racing the commit cannot keep the old copy); other processes see a
change within ``cache_seconds``. A copy loaded while this process committed a change is not
kept. Unknown keys are not cached, so random hostnames or client ids cannot fill memory, and
the cache is bounded.
"""

from __future__ import annotations

import threading
import time
import typing as t

from flask import Flask
from flask import current_app
from sqlalchemy import event
from sqlalchemy import inspect
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session

from app.db import Base
from app.db import get_database
from app.db import session

M = t.TypeVar("M", bound=Base)
V = t.TypeVar("V", bound="str | int | bool | tuple[t.Any, ...] | None")

MERGED = "foyer.rowcache.merged"
"""In a session's ``info``: identity key -> (cache generation, when its copy was loaded) of
every row a merge from the cache put in that session."""
STALE = "foyer.rowcache.stale"
"""Set in a session's ``info`` from the flush of a watched row until its commit."""
MAX_ENTRIES = 10_000
"""Entries kept at most; the whole cache is dropped when it is full (entries are cheap to
load again, and a bounded size matters more than a clever eviction)."""


class RowCache:
    """Detached rows by key, each trusted for ``ttl`` seconds after it was loaded."""

    def __init__(self, ttl: float, watched: tuple[type[Base], ...] = ()) -> None:
        self.ttl = ttl
        self.watched = watched
        """The models whose changes clear the cache (:func:`init_row_cache`)."""
        self._rows: dict[t.Hashable, tuple[tuple[Base, t.Any], float]] = {}
        """Key -> ((detached row, the identity keys of it and of the rows a merge of it
        brings along), when it was loaded)."""
        self._values: dict[t.Hashable, tuple[t.Any, float]] = {}
        self._lock = threading.Lock()
        self.dependents: list[t.Callable[[], None]] = []
        """Called whenever the cache is cleared: copies derived from these rows (a
        page's brand) go with them."""
        self.generation = 0
        """Changes at every :meth:`clear`, for copies made from cached rows elsewhere."""

    def get(self, key: t.Hashable, load: t.Callable[[Session], M | None]) -> M | None:
        """The row for ``key`` bound to the request's session, loading it when needed.

        :param load: Runs the query in a session of its own, so the copy it returns can be
            detached from it; the cached copy is never handed out itself.
        """
        if self.ttl <= 0:
            return load(session)
        entry = self._rows.get(key)
        if entry is None or time.monotonic() - entry[1] >= self.ttl:
            generation = self.generation
            with get_database().sessionmaker() as own:
                row = load(own)
                own.expunge_all()
            if row is None:
                return None
            state = inspect(row)
            graph = (
                state.key,
                *(inspect(o).key for o, *_ in state.mapper.cascade_iterator("merge", state)),
            )
            loaded = time.monotonic()
            self._keep(self._rows, key, (row, graph), generation, loaded)
        else:
            (row, graph), loaded = entry
        request_session = t.cast(Session, session._get_current_object())
        merged = request_session.info.setdefault(MERGED, {})
        mine = request_session.identity_map.get(graph[0])
        if mine is not None and (
            inspect(mine).modified
            or request_session.info.get(STALE)
            or self._current(merged.get(graph[0]))
        ):
            # the request's own changes, not the copy's older state; or a copy merged in
            # this session already (with another row: a vanity host's organization), which
            # a second merge would copy again attribute by attribute for nothing
            return t.cast(M, mine)
        found = request_session.merge(row, load=False)
        mark = (self.generation, loaded)
        for identity in graph:
            merged[identity] = mark
        return t.cast(M, found)

    def _current(self, mark: tuple[int, float] | None) -> bool:
        """Whether a copy merged with this mark is still one the cache would hand out."""
        return (
            mark is not None
            and mark[0] == self.generation
            and time.monotonic() - mark[1] < self.ttl
        )

    def row(self, model: type[M], row_id: str) -> M | None:
        """The row of ``model`` with this primary key (an organization or connection a
        sign-in reads on every page), by :meth:`get` under the key ``(table, id)``."""
        return self.get((model.__tablename__, row_id), lambda s: s.get(model, row_id))

    def value(self, key: t.Hashable, compute: t.Callable[[Session], V]) -> V:
        """A value derived from the watched rows (an id, a flag), kept like a row.

        :param compute: Runs in a session of its own, its answer kept; or, when the
            request's session holds changes to the watched rows not committed yet, in the
            request's session, its answer not kept (the request sees its own changes). The
            answer must be immutable. None is kept too: the keys are the callers' own (a
            tenant's or a connection's id), not request input.
        """
        if self.ttl <= 0 or self._changing():
            return compute(session)
        entry = self._values.get(key)
        if entry is not None and time.monotonic() - entry[1] < self.ttl:
            return t.cast(V, entry[0])
        generation = self.generation
        with get_database().sessionmaker() as own:
            found = compute(own)
        self._keep(self._values, key, found, generation)
        return found

    def _changing(self) -> bool:
        """The request's session changed watched rows and has not committed yet."""
        current = t.cast(Session, session._get_current_object())
        if current.info.get(STALE):
            return True
        pending = (*current.new, *current.dirty, *current.deleted)
        return any(isinstance(obj, self.watched) for obj in pending)

    def _keep(
        self,
        entries: dict[t.Hashable, t.Any],
        key: t.Hashable,
        found: t.Any,
        generation: int,
        loaded: float | None = None,
    ) -> None:
        """Keep ``found`` unless the cache was cleared while it was read (it may be older
        than a change this process just made)."""
        with self._lock:
            if generation != self.generation:
                return
            if len(entries) >= MAX_ENTRIES:
                entries.clear()
            entries[key] = (found, time.monotonic() if loaded is None else loaded)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self._values.clear()
            self.generation += 1
        for dependent in self.dependents:
            dependent()


def init_row_cache(app: Flask, *watched: type[Base]) -> None:
    """Create the app's cache; flushes and bulk statements touching ``watched`` clear it."""
    settings = app.extensions["foyer.settings"]
    cache = RowCache(float(settings.cache_seconds), watched)
    app.extensions["foyer.rowcache"] = cache
    sessionmaker = app.extensions["foyer.db"].sessionmaker

    def after_flush(s: Session, _context: t.Any) -> None:
        if any(isinstance(obj, watched) for obj in (*s.new, *s.dirty, *s.deleted)):
            s.info[STALE] = True
            cache.clear()

    def bulk_statement(state: ORMExecuteState) -> None:
        writes = state.is_insert or state.is_update or state.is_delete
        if writes and state.bind_mapper is not None:
            if issubclass(state.bind_mapper.class_, watched):
                state.session.info[STALE] = True
                cache.clear()

    def after_commit(s: Session) -> None:
        if s.info.pop(STALE, False):
            cache.clear()

    event.listen(sessionmaker, "after_flush", after_flush)
    event.listen(sessionmaker, "do_orm_execute", bulk_statement)
    event.listen(sessionmaker, "after_commit", after_commit)


def row_cache() -> RowCache:
    return t.cast(RowCache, current_app.extensions["foyer.rowcache"])
