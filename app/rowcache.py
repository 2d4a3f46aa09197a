"""Per-process copies of the rows nearly every request reads: tenant domains (with their
tenant, and a vanity host's organization and connections) and clients.

Every request resolves its host to a tenant, and every authorize and token request loads a
client. These rows change a few times a day, yet loading them through the ORM costs about
as much as the rest of a discovery request. Each worker keeps a detached copy for
``cache_seconds`` (the same trust window as the signing-key cache) and merges it into the
request's session without a query, so views get ordinary session-bound objects: lazy
relationships load and changes flush as usual.

Changes made through this process's sessions clear the cache when they flush and when they
commit (a request racing the commit cannot keep the old copy); other processes see a
change within ``cache_seconds``. Unknown keys are not cached, so random hostnames or client
ids cannot fill memory, and the cache is bounded.
"""

from __future__ import annotations

import threading
import time
import typing as t

from flask import Flask
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session

from app.db import Base
from app.db import get_database
from app.db import session

M = t.TypeVar("M", bound=Base)

MAX_ENTRIES = 10_000
"""Entries kept at most; the whole cache is dropped when it is full (entries are cheap to
load again, and a bounded size matters more than a clever eviction)."""


class RowCache:
    """Detached rows by key, each trusted for ``ttl`` seconds after it was loaded."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._rows: dict[t.Hashable, tuple[Base, float]] = {}
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
            with get_database().sessionmaker() as own:
                row = load(own)
                own.expunge_all()
            if row is None:
                return None
            with self._lock:
                if len(self._rows) >= MAX_ENTRIES:
                    self._rows.clear()
                self._rows[key] = (row, time.monotonic())
        else:
            row = entry[0]
        return t.cast(M, session.merge(row, load=False))

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self.generation += 1
        for dependent in self.dependents:
            dependent()


def init_row_cache(app: Flask, *watched: type[Base]) -> None:
    """Create the app's cache; flushes and bulk statements touching ``watched`` clear it."""
    settings = app.extensions["foyer.settings"]
    cache = RowCache(float(settings.cache_seconds))
    app.extensions["foyer.rowcache"] = cache
    sessionmaker = app.extensions["foyer.db"].sessionmaker

    def after_flush(s: Session, _context: t.Any) -> None:
        if any(isinstance(obj, watched) for obj in (*s.new, *s.dirty, *s.deleted)):
            s.info["foyer.rowcache.stale"] = True
            cache.clear()

    def bulk_statement(state: ORMExecuteState) -> None:
        if (state.is_update or state.is_delete) and state.bind_mapper is not None:
            if issubclass(state.bind_mapper.class_, watched):
                state.session.info["foyer.rowcache.stale"] = True
                cache.clear()

    def after_commit(s: Session) -> None:
        if s.info.pop("foyer.rowcache.stale", False):
            cache.clear()

    event.listen(sessionmaker, "after_flush", after_flush)
    event.listen(sessionmaker, "do_orm_execute", bulk_statement)
    event.listen(sessionmaker, "after_commit", after_commit)


def row_cache() -> RowCache:
    return t.cast(RowCache, current_app.extensions["foyer.rowcache"])
