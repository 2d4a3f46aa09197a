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


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Autogenerate's filter: the database-specific search indexes are not model drift."""
    return not (type_ == "index" and reflected and name in SEARCH_INDEXES)


def alembic_config(database: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = database.engine
    return cfg


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(database: Database) -> str | None:
    """The newest revision of the migration scripts (read once per version of the files)."""
    versions = MIGRATIONS / "versions"
    stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in versions.glob("*.py")))
    return _head_of_scripts(stamp)


@functools.lru_cache(maxsize=4)
def _head_of_scripts(stamp: tuple[tuple[str, int], ...]) -> str | None:
    """Reading the scripts took 6.5 ms of every start; tests start an app per test."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def upgrade(database: Database, revision: str = "head") -> None:
    command.upgrade(alembic_config(database), revision)


def downgrade(database: Database, revision: str) -> None:
    command.downgrade(alembic_config(database), revision)


def upgrade_if_needed(database: Database) -> None:
    """Migrate an embedded SQLite database on start; other databases only warn.

    Several app processes sharing PostgreSQL must not race to migrate, so operators run
    ``foyer db upgrade`` once per deployment.
    """
    if current_revision(database) == head_revision(database):
        return
    if database.url.startswith("sqlite"):
        upgrade(database)
    else:
        log.warning("database schema is not current: run `foyer db upgrade`")
