"""Schema migrations with Alembic: run on first start (SQLite) or by ``foyer db upgrade``.

Whether the schema is current is answered without Alembic (every start and ``/health/ready``
ask): the database's revision is one row, and the scripts' revisions are read from their
``revision`` / ``down_revision`` lines. Alembic, with Mako and Pygments, takes about 8 MiB
of every worker: it is imported only to migrate.
"""

from __future__ import annotations

import ast
import functools
import logging
import typing as t
from pathlib import Path

import sqlalchemy as sa

from app.config import shipped_path

if t.TYPE_CHECKING:
    from alembic.config import Config

    from app.db import Database

log = logging.getLogger(__name__)
MIGRATIONS = shipped_path("migrations")
SEARCH_INDEXES = frozenset(
    {"ix_user_name_trgm", "ix_organization_display_name_trgm", "ix_organization_name_trgm"}
)
"""PostgreSQL's trigram indexes for "contains" searches (migration 20261205_0830): made
only where ``pg_trgm`` exists, so they are not in the models."""
SEARCH_TABLES = frozenset(
    f"{table}{shadow}"
    for table in ("user_name_search", "organization_name_search")
    for shadow in ("", "_data", "_idx", "_docsize", "_config")
)
"""SQLite's trigram indexes for the same searches (migration 20261205_0910): FTS5 tables and
the tables FTS5 keeps for each, made only where SQLite has the tokenizer."""


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Autogenerate's filter: the database-specific search indexes are not model drift."""
    if not reflected:
        return True
    return not (
        (type_ == "index" and name in SEARCH_INDEXES)
        or (type_ == "table" and name in SEARCH_TABLES)
    )


VERSION_TABLE = "alembic_version"


def alembic_config(database: Database) -> Config:
    # memory: Alembic is imported to migrate, not by every worker at start
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = database.engine
    return cfg


def current_revision(database: Database) -> str | None:
    """The database's revision: None before the first migration."""
    with database.engine.connect() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return None
        rows = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:  # as Alembic refuses: Foyer's migrations never branch
        raise RuntimeError(f"{VERSION_TABLE} holds several revisions: {', '.join(rows)}")
    return rows[0] if rows else None


def _stamp() -> tuple[tuple[str, int], ...]:
    versions = MIGRATIONS / "versions"
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in versions.glob("*.py")))


def head_revision(database: Database) -> str | None:
    """The newest revision of the migration scripts (read once per version of the files)."""
    return _scripts(_stamp())[0]


@functools.lru_cache(maxsize=4)
def _scripts(stamp: tuple[tuple[str, int], ...]) -> tuple[str | None, frozenset[str]]:
    """The head and every revision of the scripts (their ``revision`` and ``down_revision``
    assignments; a test holds the answer equal to Alembic's). None for the head when the
    scripts have several, which Alembic would refuse to migrate."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for name, _mtime in stamp:
        found = _assignments(MIGRATIONS / "versions" / name)
        revision, down = found.get("revision"), found.get("down_revision")
        if isinstance(revision, str):
            revisions.add(revision)
        parents.update(down if isinstance(down, tuple) else (down,) if down else ())
    heads = revisions - parents
    return (next(iter(heads)) if len(heads) == 1 else None), frozenset(revisions)


def _assignments(path: Path) -> dict[str, t.Any]:
    """The module-level constants a migration script assigns (``revision = "..."``)."""
    found: dict[str, t.Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and value is not None:
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                continue
    return found


def schema_state(database: Database, revision: str | None) -> str:
    """How the database's ``revision`` compares with this code's migrations: ``current``;
    ``ahead`` when it names a revision these scripts do not know (a newer release migrated
    it: during a rolling upgrade the previous release still serves, see the expand-then-
    contract rule in docs/operating.md); ``not current`` when it is behind (or empty)."""
    head = head_revision(database)
    if revision == head:
        return "current"
    if revision is not None and revision not in _scripts(_stamp())[1]:
        return "ahead"
    return "not current"


def upgrade(database: Database, revision: str = "head") -> None:
    # memory: Alembic is imported to migrate, not by every worker at start
    from alembic import command

    command.upgrade(alembic_config(database), revision)


def downgrade(database: Database, revision: str) -> None:
    # memory: Alembic is imported to migrate, not by every worker at start
    from alembic import command

    command.downgrade(alembic_config(database), revision)


def upgrade_if_needed(database: Database) -> None:
    """Migrate an embedded SQLite database on start; other databases only warn.

    Several app processes sharing PostgreSQL must not race to migrate, so operators run
    ``foyer db upgrade`` once per deployment.
    """
    if schema_state(database, current_revision(database)) != "not current":
        return  # current, or migrated by a newer release (a node being replaced)
    if database.url.startswith("sqlite"):
        upgrade(database)
    else:
        log.warning("database schema is not current: run `foyer db upgrade`")


def is_known_revision(revision: str) -> bool:
    """Whether this code's migration scripts hold ``revision`` (an unknown one is newer)."""
    return revision in _scripts(_stamp())[1]
