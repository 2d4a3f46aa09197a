"""Indexes for "contains" searches of names: SQLite's FTS5 trigram tables, PostgreSQL's
pg_trgm indexes.

``LIKE '%term%'`` cannot use a B-tree index, so the organization picker's search and the
management API's ``name`` filter would read every organization or user of the tenant.
PostgreSQL has pg_trgm indexes for them (migration 20261205_0830); on SQLite, migration
20261205_0910 keeps FTS5 tables with the ``trigram`` tokenizer beside ``user`` and
``organization`` (kept in step by triggers). :func:`narrowed` makes a search start from the
rows whose index holds the term's runs of three, and the caller's ``LIKE`` (on
:func:`unindexed` names) still decides: the index folds case, so it may offer rows the
``LIKE`` then refuses, never fewer, and the answers and their order stay exactly the
``LIKE``'s. Terms shorter than three characters (the indexes hold runs of three) still read
every row of the tenant. :func:`compact` folds what a bulk import left beside an index into
it.
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


def narrowed(statement: sa.Select[t.Any], table: sa.Table, term: str) -> sa.Select[t.Any]:
    """``statement`` (which selects from ``table``) starting from the rows whose names hold
    ``term``'s runs of three, through the trigram index; unchanged without one or for a
    shorter term. The caller keeps its own ``LIKE`` on :func:`unindexed` names, which
    decides."""
    if len(term) < MIN_LENGTH or "\x00" in term:
        return statement
    # The term's runs of three side by side (the last may overlap): a row whose name holds
    # the term holds each run, and the index reads a third of the lists that every trigram
    # of the term would (PostgreSQL: 0.25 against 1.4 to 2.1 ms for a user's full name
    # among a million).
    runs = [term[i : i + MIN_LENGTH] for i in range(0, len(term) - MIN_LENGTH + 1, MIN_LENGTH)]
    if len(term) % MIN_LENGTH:
        runs.append(term[-MIN_LENGTH:])
    runs = _spread(list(dict.fromkeys(runs)))
    engine = get_database().engine
    if not _indexed(engine, table.name):
        return statement
    if engine.dialect.name == "postgresql":
        return statement.where(
            sa.or_(
                *(
                    sa.and_(*(column.contains(run, autoescape=True) for run in runs))
                    for column in INDEXED_NAMES[table.name](table)
                )
            )
        )
    name = SEARCH_TABLES[table.name]
    search = sa.table(name, sa.column("rowid"), sa.column(name))
    # each run quoted as a string (no FTS5 query syntax), all required
    query = " AND ".join('"' + run.replace('"', '""') + '"' for run in runs)
    rowid = sa.literal_column(f'"{table.name}".rowid')
    return statement.select_from(_IndexFirst(search, table, search.c.rowid == rowid)).where(
        search.c[name].match(query)
    )


MAX_RUNS = 8
"""Runs of a term the index is asked for at most: a long term (the API takes 255
characters) would otherwise send one list lookup per three characters; eight runs already
leave a handful of rows, which the ``LIKE`` decides."""


def _spread(runs: list[str]) -> list[str]:
    """At most :data:`MAX_RUNS` of ``runs``, spread from the first to the last."""
    if len(runs) <= MAX_RUNS:
        return runs
    last = len(runs) - 1
    return [runs[round(i * last / (MAX_RUNS - 1))] for i in range(MAX_RUNS)]


def unindexed(name: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """``name`` as the caller's deciding ``LIKE`` reads it: ``name || ''``, so that
    PostgreSQL's planner does not look every trigram of its pattern up in the index too
    (the runs of :func:`narrowed` do that, for a third of the reading); the same answers."""
    return name.concat("")


TRIGRAM_INDEXES = {
    "user": ("ix_user_name_trgm",),
    "organization": ("ix_organization_display_name_trgm", "ix_organization_name_trgm"),
}
"""PostgreSQL's pg_trgm indexes of each table (migration 20261205_0830; absent when the
server has no pg_trgm)."""

INDEXED_NAMES: dict[str, t.Callable[[sa.Table], list[sa.ColumnElement[str]]]] = {
    "user": lambda table: [table.c.name],
    "organization": lambda table: [sa.func.lower(table.c.display_name), table.c.name],
}
"""The expressions PostgreSQL's trigram indexes of each table hold (:data:`TRIGRAM_INDEXES`,
in the same order)."""

_indexes: weakref.WeakKeyDictionary[sa.Engine, dict[str, bool]] = weakref.WeakKeyDictionary()
"""Per engine and table: whether its trigram index exists (a SQLite without FTS5's tokenizer
or a PostgreSQL without pg_trgm has none); looked up once per process."""


def _indexed(engine: sa.Engine, table: str) -> bool:
    known = _indexes.setdefault(engine, {})
    if table not in known:
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                found = connection.scalar(
                    sa.text("SELECT to_regclass(:name)"), {"name": TRIGRAM_INDEXES[table][0]}
                )
            known[table] = found is not None
        else:
            known[table] = engine.dialect.name == "sqlite" and sa.inspect(engine).has_table(
                SEARCH_TABLES[table]
            )
    return known[table]


def compact(table: str) -> int:
    """Fold what a bulk insert left beside ``table``'s trigram index (``user`` or
    ``organization``) into the index itself. Returns the work done: on SQLite the steps
    taken, the last of which found nothing to merge; on PostgreSQL the pending pages folded
    in; 0 without such an index.

    SQLite: FTS5 writes each transaction's rows as a segment of their own and merges
    segments only when four of a size pile up; a search reads every segment (0.39 against
    0.23 ms at a million users once merged). The segments are merged into one, a step of
    :data:`MERGE_PAGES` pages per transaction so that other writers get the lock in between.
    A merged index is rewritten whole by the next merge: worth it after a bulk import, not
    after every change.

    PostgreSQL: a GIN index queues new rows in a pending list that every search reads in
    full until (auto)vacuum empties it (about 500 pages after a million users were copied
    in: 9.6 ms of the server's CPU per organization search instead of 1.0). Each of the
    table's pg_trgm indexes is emptied (``gin_clean_pending_list``, which its owner may run).
    """
    engine = get_database().engine
    if not _indexed(engine, table):
        return 0
    if engine.dialect.name == "postgresql":
        return _clean_pending_lists(engine, table)
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


def _clean_pending_lists(engine: sa.Engine, table: str) -> int:
    """Empty the pending list of each of ``table``'s trigram indexes that exists; the pages
    folded in."""
    clean = sa.text(
        "SELECT gin_clean_pending_list(found) FROM (SELECT to_regclass(:name) AS found) AS i"
        " WHERE found IS NOT NULL"
    )
    pages = 0
    for name in TRIGRAM_INDEXES[table]:
        with engine.begin() as connection:
            pages += connection.execute(clean, {"name": name}).scalar() or 0
    return pages


def has_trigram_index(table: str) -> bool:
    """Whether ``table``'s names are searched through a trigram index here (SQLite's FTS5
    table, PostgreSQL's pg_trgm index)."""
    return _indexed(get_database().engine, table)
