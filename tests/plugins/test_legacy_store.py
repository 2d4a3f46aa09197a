"""The ``legacy`` strategy with the example stores: a separate SQLite database and an HTTP API.

Real stores: a SQLite file of another application (bcrypt and PBKDF2 hashes) and a JSON
endpoint served on a loopback port. A user moves into Foyer at their first sign-in; the
next sign-in works with the store gone.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from app.accounts.models import Identity
from app.accounts.models import User
from app.connections.strategies import StrategyUnavailable
from app.connections.strategies import strategy_for
from app.db import session
from app.hooks import PluginError
from app.strategies.legacy import migrate_users

BOB_PASSWORD = "bob's old password"
CAROL_PASSWORD = "carol's old password"


@pytest.fixture
def sqlite_connection(make_connection, legacy_db):
    return make_connection(
        "old-app", "legacy", options={"store": "legacy_sqlite", "path": str(legacy_db)}
    )


def foyer_user(connection, email):
    return session.scalar(
        sa.select(User).where(
            User.connection_id == connection.id, User.email_normalized == email.lower()
        )
    )


def test_first_sign_in_moves_the_user_in_with_an_argon2id_hash(
    foyer_app, sqlite_connection, recorded_events
):
    result = strategy_for(sqlite_connection).authenticate("bob@old.test", BOB_PASSWORD)
    assert result.user is not None
    user = foyer_user(sqlite_connection, "bob@old.test")
    assert user.id == result.user.id
    assert user.password_hash.startswith("$argon2id$")
    assert (user.email, user.email_verified, user.name) == ("Bob@old.test", True, "Bob")
    [identity] = session.scalars(sa.select(Identity).where(Identity.user_id == user.id)).all()
    assert identity.subject == "1"
    assert [e.type for e in recorded_events("user_created", "user_migrated")] == [
        "user_created",
        "user_migrated",
    ]


def test_pbkdf2_user_and_username_sign_in(foyer_app, sqlite_connection):
    result = strategy_for(sqlite_connection).authenticate("carol", CAROL_PASSWORD)
    assert result.user is not None and result.user.username == "carol"


def test_wrong_password_and_unknown_user_create_nothing(foyer_app, sqlite_connection):
    strategy = strategy_for(sqlite_connection)
    assert strategy.authenticate("bob@old.test", "not bob's password").user is None
    assert strategy.authenticate("nobody@old.test", BOB_PASSWORD).user is None
    assert strategy.authenticate("dave@old.test", "anything at all").user is None  # md5: refused
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_second_sign_in_never_reads_the_store(foyer_app, sqlite_connection, legacy_db):
    strategy = strategy_for(sqlite_connection)
    assert strategy.authenticate("bob@old.test", BOB_PASSWORD).user is not None
    legacy_db.unlink()  # the old store is gone
    with pytest.raises(StrategyUnavailable):
        strategy.authenticate("carol@old.test", CAROL_PASSWORD)  # not moved yet: needs it
    assert strategy.authenticate("bob@old.test", BOB_PASSWORD).user is not None
    assert strategy.authenticate("bob@old.test", "wrong password here").user is None


def test_store_unavailable_raises_and_creates_nothing(foyer_app, make_connection, tmp_path):
    connection = make_connection(
        "old-app",
        "legacy",
        options={"store": "legacy_sqlite", "path": str(tmp_path / "missing.db")},
    )
    with pytest.raises(StrategyUnavailable):
        strategy_for(connection).authenticate("bob@old.test", BOB_PASSWORD)
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_bulk_migration_imports_hashes_then_rehashes_at_first_sign_in(
    foyer_app, sqlite_connection, legacy_db
):
    report = migrate_users(sqlite_connection, dry_run=True)
    assert (report.created, report.with_hash, report.skipped) == (3, 2, 0)
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    report = migrate_users(sqlite_connection)
    assert (report.created, report.with_hash, report.skipped) == (3, 2, 0)
    bob = foyer_user(sqlite_connection, "bob@old.test")
    assert bob.password_hash.startswith("legacy:bcrypt:$2b$")
    assert foyer_user(sqlite_connection, "dave@old.test").password_hash is None
    assert migrate_users(sqlite_connection).skipped == 3  # idempotent
    legacy_db.unlink()
    strategy = strategy_for(sqlite_connection)
    assert strategy.authenticate("bob@old.test", "wrong password here").user is None
    assert strategy.authenticate("bob@old.test", BOB_PASSWORD).user.id == bob.id
    session.refresh(bob)
    assert bob.password_hash.startswith("$argon2id$")
    assert strategy.authenticate("carol@old.test", CAROL_PASSWORD).user is not None


def test_imported_hash_is_never_accepted_by_the_database_strategy(
    foyer_app, sqlite_connection, connection
):
    migrate_users(sqlite_connection)
    bob = foyer_user(sqlite_connection, "bob@old.test")
    from app.security.passwords import verify_password

    assert verify_password(bob.password_hash, BOB_PASSWORD) == (False, None)


def test_migrate_command(foyer_app, tenant, sqlite_connection):
    from click.testing import CliRunner

    from app.accounts.cli import register_commands as register_users
    from app.cli import AppContext
    from app.cli import cli
    from app.strategies.legacy import register_commands

    register_users(cli)
    if "migrate" not in cli.commands["users"].commands:
        register_commands(cli)
    runner = CliRunner()
    args = ["users", "migrate", "--tenant", "acme", "--connection", "old-app"]
    result = runner.invoke(cli, args, obj=AppContext(foyer_app))
    assert result.exit_code == 0, result.output
    assert "created 3 users (2 with an imported password hash), skipped 0" in result.output
    result = runner.invoke(cli, [*args[:-1], "users"], obj=AppContext(foyer_app))
    assert result.exit_code == 1 and "no legacy connection 'users'" in result.output


# --- the HTTP store, on a real loopback server ---------------------------------------------


class LegacyAPI:
    """The old application's login API: POST JSON, 200 with the user or 401."""

    def __init__(self):
        self.calls = 0
        self.delay = 0.0
        self.status = None

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.status:
            return Response("down", status=self.status)(environ, start_response)
        if request.headers.get("Authorization") != "Bearer k3y":
            return Response("no", status=403)(environ, start_response)
        body = request.get_json(silent=True) or {}
        if body.get("username") == "erin@old.test" and body.get("password") == "erin's password":
            user = {"id": "u-9", "email": "erin@old.test", "email_verified": True, "name": "Erin"}
            return Response(json.dumps(user), mimetype="application/json")(environ, start_response)
        return Response("no", status=401)(environ, start_response)


@pytest.fixture
def legacy_api():
    api = LegacyAPI()
    server = make_server("127.0.0.1", 0, api, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_port}/login"
    api.server = server
    yield api
    server.shutdown()


@pytest.fixture
def http_connection(make_connection, legacy_api):
    return make_connection(
        "old-api",
        "legacy",
        options={"store": "legacy_http", "url": legacy_api.url, "timeout": 1},
        secrets={"api_key": "k3y"},
    )


def test_http_store_moves_the_user_in_then_is_never_called_again(
    foyer_app, http_connection, legacy_api
):
    strategy = strategy_for(http_connection)
    assert strategy.authenticate("erin@old.test", "wrong password").user is None
    assert strategy.authenticate("nobody@old.test", "erin's password").user is None
    assert legacy_api.calls == 2
    user = strategy.authenticate("erin@old.test", "erin's password").user
    assert user is not None and user.name == "Erin" and user.email_verified
    legacy_api.server.shutdown()  # unreachable from now on
    legacy_api.server.server_close()
    assert strategy.authenticate("erin@old.test", "erin's password").user.id == user.id
    assert legacy_api.calls == 3


def test_http_store_refused_connection_is_unavailable(foyer_app, http_connection, legacy_api):
    legacy_api.server.shutdown()
    legacy_api.server.server_close()
    with pytest.raises(StrategyUnavailable):
        strategy_for(http_connection).authenticate("erin@old.test", "erin's password")
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_store_server_error_is_unavailable(foyer_app, http_connection, legacy_api, status):
    legacy_api.status = status
    with pytest.raises(StrategyUnavailable):
        strategy_for(http_connection).authenticate("erin@old.test", "erin's password")


def test_http_store_that_hangs_times_out(foyer_app, http_connection, legacy_api):
    legacy_api.delay = 3
    started = time.monotonic()
    with pytest.raises(StrategyUnavailable):
        strategy_for(http_connection).authenticate("erin@old.test", "erin's password")
    assert time.monotonic() - started < 2.5
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_http_store_refuses_plain_http_to_other_hosts(foyer_app, make_connection, recorded_events):

    connection = make_connection(
        "old-api", "legacy", options={"store": "legacy_http", "url": "http://old.example/login"}
    )
    with pytest.raises(PluginError):
        strategy_for(connection).authenticate("erin@old.test", "erin's password")
    [event] = recorded_events("plugin_failed")
    assert event.data["error"] == "ValueError"
