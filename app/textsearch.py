"""SQLite's index for "contains" searches of names: FTS5 trigram tables.

``LIKE '%term%'`` cannot use a B-tree index, so the organization picker's search and the
management API's ``name`` filter would read every organization or user of the tenant.
PostgreSQL serves them from pg_trgm indexes; on SQLite, migration 20261205_0910 keeps FTS5
tables with the ``trigram`` tokenizer beside ``user`` and ``organization`` (kept in step by
triggers). :func:`narrowed` makes a search start from the rows whose index holds the term,
and the caller's ``LIKE`` still decides: the trigram index folds case beyond ASCII, so it may
offer rows the ``LIKE`` then refuses, never fewer, and the answers and their order stay
exactly the ``LIKE``'s. Terms shorter than three characters (the tokenizer indexes runs of
three) still read every row of the tenant.
"""

from __future__ import annotations

import typing as t
import weakref

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from app.db import get_database

MIN_LENGTH = 3
"""Characters a term needs for the index: trigram indexes runs of three."""

SEARCH_TABLES = {"user": "user_name_search", "organization": "organization_name_search"}
"""Indexed table -> its FTS5 table (migration 20261205_0910)."""

_present: weakref.WeakKeyDictionary[sa.Engine, bool] = weakref.WeakKeyDictionary()
"""Per engine: whether the FTS5 tables exist (a SQLite without the tokenizer has none)."""

MERGE_PAGES = 500
"""Index pages (about 4 KB each) one step of :func:`compact` writes, in its own transaction:
a few tens of milliseconds of the write lock at a time."""


class _IndexFirst(sa.sql.expression.Join):
    """``fts CROSS JOIN table``: SQLite reads the join's left side first. Without statistics
    (Foyer does not run ANALYZE) its planner would rather walk the tenant's index in the
    page's order and probe the matches for each row, which reads every row again."""

    inherit_cache = True


@compiles(_IndexFirst, "sqlite")
def _cross_join(join: _IndexFirst, compiler: t.Any, **kw: t.Any) -> str:
    """The join as SQLAlchemy writes it, its first ``JOIN`` (after the FTS5 table's plain
    name) made ``CROSS JOIN``."""
    name = join.left.name  # type: ignore[attr-defined]
    return str(compiler.visit_join(join, **kw)).replace(f"{name} JOIN ", f"{name} CROSS JOIN ", 1)


def _has_index(engine: sa.Engine) -> bool:
    if engine.dialect.name != "sqlite":
        return False
    if engine not in _present:
        _present[engine] = sa.inspect(engine).has_table(SEARCH_TABLES["user"])
    return _present[engine]


def narrowed(statement: sa.Select[t.Any], table: sa.Table, term: str) -> sa.Select[t.Any]:
    """``statement`` (which selects from ``table``) starting from the rows whose names hold
    ``term`` in any case, on SQLite with the index; unchanged otherwise. The caller keeps
    its own ``LIKE`` condition, which decides."""
    if len(term) < MIN_LENGTH or "\x00" in term or not _has_index(get_database().engine):
        return statement
    name = SEARCH_TABLES[table.name]
    search = sa.table(name, sa.column("rowid"), sa.column(name))
    # The term's runs of three side by side (the last may overlap), each quoted as a string
    # (no FTS5 query syntax), all required: a row whose name holds the term holds each run,
    # and the index reads a third of the lists that the phrase of every trigram would.
    runs = [term[i : i + MIN_LENGTH] for i in range(0, len(term) - MIN_LENGTH + 1, MIN_LENGTH)]
    if len(term) % MIN_LENGTH:
        runs.append(term[-MIN_LENGTH:])
    query = " AND ".join('"' + run.replace('"', '""') + '"' for run in dict.fromkeys(runs))
    rowid = sa.literal_column(f'"{table.name}".rowid')
    return statement.select_from(_IndexFirst(search, table, search.c.rowid == rowid)).where(
        search.c[name].match(query)
    )


def compact(table: str) -> int:
    """Merge ``table``'s index (``user`` or ``organization``) into one segment, a step of
    :data:`MERGE_PAGES` pages per transaction so that other writers get the lock in
    between; the steps taken (0 without the index).

    FTS5 writes each transaction's rows as a segment of their own and merges segments only
    when four of a size pile up; a search reads every segment, so a bulk import committed
    in batches leaves searches up to twice as slow as a merged index (0.39 against 0.23 ms at
    a million users). Worth it after a bulk import; a merged index is rewritten whole by
    the next merge, so not after every change.
    """
    engine = get_database().engine
    if not _has_index(engine):
        return 0
    search = SEARCH_TABLES[table]
    merge = sa.text(f"INSERT INTO {search}({search}, rank) VALUES ('merge', :pages)")
    steps = 0
    while True:
        with engine.begin() as connection:
            raw = connection.connection.driver_connection
            before = raw.total_changes
            # negative: segments of any size are merged, as long as there are two
            connection.execute(merge, {"pages": -MERGE_PAGES})
            merged = raw.total_changes - before >= 2  # fewer: nothing was left to merge
        steps += 1
        if not merged:
            return steps
