"""Migrations: the models match the migrations, and every migration reverses cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.db import Database
from app.migrate import current_revision
from app.migrate import downgrade
from app.migrate import head_revision
from app.migrate import include_object
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
