"""The app factory, tenancy, the database strategy and the plugin manager."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.connections.strategies import strategy_for
from app.events.models import Event
from app.testing import USER_PASSWORD
from app.testing import host_client


def test_unknown_host_gets_404_never_a_page(foyer_app, tenant):
    response = host_client(foyer_app, "evil.test").get("/login")
    assert response.status_code == 404


def test_database_strategy_checks_argon2id_password(user, connection):
    strategy = strategy_for(connection)
    assert user.password_hash.startswith("$argon2id$")
    assert strategy.authenticate("ALICE@example.com", USER_PASSWORD).user.id == user.id
    assert strategy.authenticate("alice@example.com", "wrong password!!").user is None
    assert strategy.authenticate("nobody@example.com", USER_PASSWORD).user is None


def test_password_rehashed_when_parameters_change(foyer_app, user, connection):
    old_hash = user.password_hash
    foyer_app.extensions.pop("foyer.hasher")
    foyer_app.extensions["foyer.settings"].argon2_time_cost = 2
    result = strategy_for(connection).authenticate("alice@example.com", USER_PASSWORD)
    assert result.user is not None
    assert result.user.password_hash != old_hash
    assert "t=2" in result.user.password_hash


def test_failing_plugin_is_contained_and_named_in_an_event(foyer_app, tenant, register_plugin):
    from app import hookimpl
    from app.db import session

    class Broken:
        @hookimpl
        def track_event(self, event):
            raise RuntimeError("sink down")

    register_plugin(Broken(), name="broken-sink")
    seen = []

    class Recorder:
        @hookimpl
        def track_event(self, event):
            seen.append(event.type)

    register_plugin(Recorder(), name="recorder")
    from app.events.record import record_event

    record_event("config_applied", tenant=tenant)
    assert seen == ["config_applied"]
    assert session.query(Event).filter_by(type="config_applied").count() == 1


def test_a_worker_starts_without_the_libraries_of_optional_features(tmp_path):
    """pysaml2, scim2-models, Alembic and zxcvbn load with the first request that needs
    them (each takes 8 to 13 MiB), requests with the first outbound call (5 MiB) and segno
    with the first authenticator enrolled, not in every worker of every server."""
    env = {
        **os.environ,
        "FOYER_INSTANCE_PATH": str(tmp_path / "instance"),
        "FOYER_DATABASE_URL": "postgresql://foyer@127.0.0.1:9/nowhere",
        "FOYER_PLUGINS_DIR": str(tmp_path / "no-plugins"),
    }
    code = "import sys, app.wsgi; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = {name.split(".")[0] for name in done.stdout.split()}
    optional = {"saml2", "xmlschema", "scim2_models", "pydantic", "alembic", "zxcvbn"}
    optional |= {"requests", "urllib3", "segno"}
    assert loaded.isdisjoint(optional), loaded & optional


def test_sqlite_connections_keep_their_own_page_cache(foyer_app, tmp_path):
    """Both pools (the requests' and the self-committing counters') get the pragmas, with
    the page cache ``FOYER_SQLITE_CACHE_MIB`` asks."""
    from app.db import SQLITE_CACHE_MIB
    from app.db import Database

    with foyer_app.app_context():
        if foyer_app.extensions["foyer.db"].engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL sizes its shared buffers itself")
    small = Database(f"sqlite:///{tmp_path / 'small.db'}", 3)
    try:
        for mib, database in ((SQLITE_CACHE_MIB, foyer_app.extensions["foyer.db"]), (3, small)):
            for engine in (database.engine, database.counters_engine):
                with engine.connect() as connection:
                    size = connection.exec_driver_sql("PRAGMA cache_size").scalar()
                    mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
                assert (size, mode) == (-mib * 1024, "wal")
    finally:
        small.dispose()
