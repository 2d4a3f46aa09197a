"""SQLite: trigram indexes for the "contains" searches of names

Revision ID: 20261205_0910
Revises: 20261205_0830
Create Date: 2026-12-05 09:10:00

The organization picker's search and the management API's ``name`` filter match text
*inside* names (``LIKE '%term%'``), which no B-tree index serves: on SQLite they read every
organization or user of the tenant. PostgreSQL has pg_trgm indexes for them (20261205_0830);
this is SQLite's equivalent: FTS5 tables with the ``trigram`` tokenizer (SQLite 3.34 and
later) over ``user.name`` and ``organization``'s display name and name. They are
external-content tables (they keep only the index, keyed by the row's ``rowid``), kept in
step by triggers on insert, delete and a change of the names; existing rows are indexed here
(``rebuild``). On PostgreSQL, or a SQLite without FTS5 or the tokenizer, nothing is created
and those searches read every row as before (``app.textsearch`` looks for the tables).

A later migration that recreates ``user`` or ``organization`` (``batch_alter_table`` on
SQLite) drops these triggers and may renumber the rows: it must create the triggers again
and rebuild the index (tests/test_migrations.py checks the index against its table at head).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261205_0910"
down_revision = "20261205_0830"
branch_labels = None
depends_on = None

SEARCH_TABLES = {
    "user_name_search": ('"user"', ("name",)),
    "organization_name_search": ("organization", ("display_name", "name")),
}
"""FTS5 table -> (the table it indexes, its columns); the names are
``app.migrate.SEARCH_TABLES``."""


def _available(bind: sa.Connection) -> bool:
    """FTS5 with the trigram tokenizer: SQLite 3.34 or later, built with FTS5."""
    version = tuple(int(n) for n in bind.scalar(sa.text("SELECT sqlite_version()")).split("."))
    fts5 = bind.scalar(sa.text("SELECT sqlite_compileoption_used('ENABLE_FTS5')"))
    return version >= (3, 34) and bool(fts5)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" or not _available(bind):
        return
    for search, (table, columns) in SEARCH_TABLES.items():
        names = ", ".join(columns)
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        content = table.strip('"')
        op.execute(
            f"CREATE VIRTUAL TABLE {search} USING fts5({names}, content='{content}',"
            " content_rowid='rowid', tokenize='trigram')"
        )
        insert = f"INSERT INTO {search}(rowid, {names}) VALUES (new.rowid, {new});"
        delete = (
            f"INSERT INTO {search}({search}, rowid, {names}) VALUES ('delete', old.rowid, {old});"
        )
        op.execute(f"CREATE TRIGGER {search}_insert AFTER INSERT ON {table} BEGIN {insert} END")
        op.execute(f"CREATE TRIGGER {search}_delete AFTER DELETE ON {table} BEGIN {delete} END")
        op.execute(
            f"CREATE TRIGGER {search}_update AFTER UPDATE OF {names} ON {table}"
            f" BEGIN {delete} {insert} END"
        )
        op.execute(f"INSERT INTO {search}({search}) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for search in SEARCH_TABLES:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {search}_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS {search}")
