"""Schema migrations with Alembic: run on first start (SQLite) or by ``foyer db upgrade``."""

from __future__ import annotations

import functools
import logging
import typing as t

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.config import shipped_path

if t.TYPE_CHECKING:
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


def alembic_config(database: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = database.engine
    return cfg


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _stamp() -> tuple[tuple[str, int], ...]:
    versions = MIGRATIONS / "versions"
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in versions.glob("*.py")))


def head_revision(database: Database) -> str | None:
    """The newest revision of the migration scripts (read once per version of the files)."""
    return _scripts(_stamp())[0]


@functools.lru_cache(maxsize=4)
def _scripts(stamp: tuple[tuple[str, int], ...]) -> tuple[str | None, frozenset[str]]:
    """The head and every revision of the scripts. Reading them took 6.5 ms of every start;
    tests start an app per test."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    return scripts.get_current_head(), frozenset(s.revision for s in scripts.walk_revisions())


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
    command.upgrade(alembic_config(database), revision)


def downgrade(database: Database, revision: str) -> None:
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
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        return ScriptDirectory.from_config(cfg).get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown or malformed id
        return False
