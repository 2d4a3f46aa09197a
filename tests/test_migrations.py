"""Migrations: the models match the migrations, every migration reverses cleanly, and each
upgrade only expands the schema (rolling upgrades)."""

from __future__ import annotations

import ast
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.db import Database
from app.migrate import MIGRATIONS
from app.migrate import current_revision
from app.migrate import downgrade
from app.migrate import head_revision
from app.migrate import include_object
from app.migrate import is_known_revision
from app.migrate import upgrade
from app.models import metadata


def test_models_match_migrations(foyer_app):
    engine = foyer_app.extensions["foyer.db"].engine
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, metadata)
    assert diff == [], "models changed without a migration (scripts/regen-migration)"


def test_downgrade_to_base_and_upgrade_again_keeps_working(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    upgrade(database)
    assert current_revision(database) == head_revision(database)
    with database.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tenant (id, name, display_name, default_locale, settings, created_at)"
                " VALUES ('t1', 'acme', 'Acme', 'en', '{}', '2026-01-01 00:00:00')"
            )
        )
    downgrade(database, "base")
    assert "tenant" not in sa.inspect(database.engine).get_table_names()
    upgrade(database)
    assert current_revision(database) == head_revision(database)
    database.dispose()


def test_revisions_read_without_alembic_are_alembics(tmp_path):
    """Start-up reads the scripts' revisions and the database's without importing Alembic:
    the same answers as Alembic's."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    database = Database(f"sqlite:///{tmp_path / 'revisions.db'}")
    assert current_revision(database) is None
    upgrade(database)
    assert head_revision(database) == scripts.get_current_head()
    assert all(is_known_revision(s.revision) for s in scripts.walk_revisions())
    assert not is_known_revision("29991231_9999")
    with database.engine.connect() as conn:
        assert current_revision(database) == MigrationContext.configure(conn).get_current_revision()
    downgrade(database, "base")
    assert current_revision(database) is None
    database.dispose()


CONTRACTING = ("drop_", "rename", "alter_column", "execute")
"""Operations that can break the previous release's code while it still serves."""


def _contracting_calls(source: str) -> list[str]:
    """What ``upgrade()`` of a migration does that is not expand-only: drops, renames,
    altered columns, raw SQL, and new NOT NULL columns without a server default (the
    previous release inserts rows without them)."""
    found = []
    for function in ast.parse(source).body:
        if not (isinstance(function, ast.FunctionDef) and function.name == "upgrade"):
            continue
        for node in ast.walk(function):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name = node.func.attr
            if name.startswith(CONTRACTING):
                found.append(ast.unparse(node))
            elif name == "add_column":
                column = node.args[0] if node.args else None
                keywords = {k.arg: ast.unparse(k.value) for k in getattr(column, "keywords", [])}
                if keywords.get("nullable") == "False" and "server_default" not in keywords:
                    found.append(ast.unparse(node))
    return found


def test_every_upgrade_only_expands_the_schema():
    """Rolling upgrades (docs/operating.md): the database is migrated first, while nodes of
    the previous release still serve, so an upgrade adds and never takes away. A contracting
    step belongs in a later release and is named in ``CONTRACT_ALLOWED`` with the reason."""
    versions = Path(__file__).resolve().parents[1] / "migrations" / "versions"
    found = {
        path.name: calls
        for path in sorted(versions.glob("*.py"))
        if (calls := _contracting_calls(path.read_text())) and path.name not in CONTRACT_ALLOWED
    }
    assert found == {}


CONTRACT_ALLOWED: dict[str, str] = {
    "20261205_0830_indexes_for_scale.py": (
        "raw SQL only adds: the pg_trgm extension and GIN trigram indexes, which SQLAlchemy's"
        " operations cannot express; nothing the previous release reads changes"
    ),
    "20261205_0910_sqlite_name_search.py": (
        "raw SQL only adds, on SQLite: FTS5 trigram tables and the triggers that keep them in"
        " step with user and organization rows, which SQLAlchemy's operations cannot express;"
        " the previous release's writes fire the triggers and keep the index whole"
    ),
}
"""Migration file -> why its contracting step is safe (what the previous release no longer
reads)."""


def test_the_expand_check_sees_a_dropped_column_and_a_new_required_one():
    source = (
        "def upgrade():\n"
        "    op.drop_column('user', 'name')\n"
        "    with op.batch_alter_table('user') as batch_op:\n"
        "        batch_op.add_column(sa.Column('x', sa.String(), nullable=False))\n"
        "        batch_op.add_column(sa.Column('y', sa.Boolean(), server_default=sa.false(),"
        " nullable=False))\n"
        "def downgrade():\n"
        "    op.drop_table('user')\n"
    )
    assert _contracting_calls(source) == [
        "op.drop_column('user', 'name')",
        "batch_op.add_column(sa.Column('x', sa.String(), nullable=False))",
    ]


def test_the_sqlite_name_search_index_holds_every_row_at_head(tmp_path):
    """Rows written before a later migration are still in the trigram index at head (a
    migration that recreates ``user`` or ``organization`` must rebuild it: 20261205_0910)."""
    database = Database(f"sqlite:///{tmp_path / 'search.db'}")
    upgrade(database, "20261205_0830")
    with database.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tenant (id, name, display_name, default_locale, settings, created_at)"
                " VALUES ('t1', 'acme', 'Acme', 'en', '{}', '2026-01-01 00:00:00');"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO organization (id, tenant_id, name, display_name, branding,"
                " metadata, plugins, require_two_step, created_at) VALUES ('o1', 't1',"
                " 'globex', 'Globex Corporation', '{}', '{}', '{}', 0, '2026-01-01 00:00:00')"
            )
        )
    upgrade(database)
    with database.engine.begin() as conn:
        search, changes = (
            ("organization_name_search", "user_name_search"),
            ("insert", "update", "delete"),
        )
        for table in search:
            conn.execute(
                sa.text(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)")
            )
        found = conn.scalar(
            sa.text(
                "SELECT rowid FROM organization_name_search"
                " WHERE organization_name_search MATCH '\"corpo\"'"
            )
        )
        assert found == conn.scalar(sa.text("SELECT rowid FROM organization WHERE id = 'o1'"))
        triggers = conn.scalars(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        assert {f"{table}_{change}" for table in search for change in changes} <= set(triggers)
    database.dispose()
