"""``foyer users import``: pre-hashed users from JSON Lines, checked first, in batches."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from click.testing import CliRunner

from app import hookimpl
from app import textsearch
from app.accounts import bulk
from app.accounts.cli import register_commands
from app.accounts.models import User
from app.cli import AppContext
from app.cli import cli
from app.db import session
from app.testing import USER_PASSWORD
from app.testing import login

register_commands(cli)
HASH = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1).hash(USER_PASSWORD)


def write_lines(path, *items):
    path.write_text("".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items))
    return path


def run(foyer_app, path, connection="users"):
    return CliRunner().invoke(
        cli,
        ["users", "import", "--tenant", "acme", "--connection", connection, str(path)],
        obj=AppContext(foyer_app),
    )


def users_of(connection):
    session.expire_all()
    return {
        u.email or u.username: u
        for u in session.scalars(sa.select(User).where(User.connection_id == connection.id))
    }


def test_imported_users_sign_in_with_their_old_password(
    foyer_app, connection, client, recorded_events, tmp_path
):
    path = write_lines(
        tmp_path / "users.jsonl",
        {
            "email": "Ada@Example.com",
            "password_hash": HASH,
            "name": "Ada Lovelace",
            "email_verified": True,
            "app_metadata": {"plan": "gold"},
        },
        {"username": "alan", "password_hash": HASH, "locale": "fr"},
        {"email": "grace@example.com"},  # no password yet: a reset or an invitation sets it
    )
    result = run(foyer_app, path)
    assert result.exit_code == 0, result.output
    assert "3 users read: 3 imported, 0 already there" in result.output

    users = users_of(connection)
    ada = users["Ada@example.com"]  # the domain in lower case
    assert (ada.email_normalized, ada.name, ada.email_verified) == (
        "ada@example.com",
        "Ada Lovelace",
        True,
    )
    assert ada.app_metadata == {"plan": "gold"} and ada.user_metadata == {}
    assert users["alan"].locale == "fr" and users["grace@example.com"].password_hash is None
    assert {e.user_id for e in recorded_events("user_created")} == {u.id for u in users.values()}

    signed_in = login(client, "ada@example.com", USER_PASSWORD)
    assert signed_in.status_code == 303


def test_one_wrong_line_imports_nothing_and_every_problem_is_listed(
    foyer_app, connection, tmp_path
):
    path = write_lines(
        tmp_path / "users.jsonl",
        {"email": "ok@example.com", "password_hash": HASH},
        "{not json",
        {"email": "bob@example.com", "password_hash": "$2b$12$not.a.whole.bcrypt.hash"},
        {"email": "OK@example.com"},
        {"email": "eve@example.com", "role": "admin"},
        {"name": "nobody"},
        {"email": "x@example.com", "blocked": "yes"},
    )
    result = run(foyer_app, path)
    assert result.exit_code == 1
    for line, words in (
        (2, "not JSON"),
        (3, "not a bcrypt hash"),
        (4, "email already on line 1"),
        (5, "unknown field 'role'"),
        (6, "email or a username"),
        (7, "blocked must be true or false"),
    ):
        assert f"users.jsonl:{line}: " in result.output and words in result.output
    assert "6 invalid lines; nothing was imported" in result.output
    assert users_of(connection) == {}


def test_running_again_skips_the_users_already_there_and_changes_none(
    foyer_app, connection, make_user, tmp_path
):
    existing = make_user(email="ada@example.com", name="Kept as is")
    path = write_lines(
        tmp_path / "users.jsonl",
        {"email": "ADA@example.com", "password_hash": HASH, "name": "From the file"},
        {"email": "alan@example.com", "password_hash": HASH},
    )
    first = run(foyer_app, path)
    assert "2 users read: 1 imported, 1 already there" in first.output
    second = run(foyer_app, path)
    assert "2 users read: 0 imported, 2 already there" in second.output
    users = users_of(connection)
    assert users["ada@example.com"].name == "Kept as is"
    assert users["ada@example.com"].id == existing.id
    assert set(users) == {"ada@example.com", "alan@example.com"}


def test_batches_cover_the_whole_file(foyer_app, tenant, connection, tmp_path):
    path = write_lines(
        tmp_path / "users.jsonl", *({"email": f"user{n}@example.com"} for n in range(25))
    )
    with foyer_app.app_context():
        bulk.check_file(path)
        result = bulk.import_users(path, tenant, connection, batch_size=10)
    assert (result.imported, result.skipped) == (25, 0)
    assert len(users_of(connection)) == 25


def test_prepare_user_plugins_see_every_imported_user(
    foyer_app, connection, register_plugin, tmp_path
):
    class Defaults:
        @hookimpl
        def prepare_user(self, user, connection):
            user.app_metadata = {**user.app_metadata, "source": connection.name}

    register_plugin(Defaults(), name="defaults")
    path = write_lines(
        tmp_path / "users.jsonl", {"email": "ada@example.com", "app_metadata": {"plan": "gold"}}
    )
    assert run(foyer_app, path).exit_code == 0
    assert users_of(connection)["ada@example.com"].app_metadata == {
        "plan": "gold",
        "source": "users",
    }


def test_unknown_connection_is_refused(foyer_app, tenant, tmp_path):
    path = write_lines(tmp_path / "users.jsonl", {"email": "ada@example.com"})
    result = run(foyer_app, path, connection="nope")
    assert result.exit_code == 1 and "has no connection 'nope'" in result.output


@pytest.mark.parametrize("value", ["", "  ", "@example.com"])
def test_empty_or_malformed_emails_are_refused(value):
    with pytest.raises(ValueError):
        bulk.parse_line(json.dumps({"email": value}))


@pytest.mark.parametrize("api", [False, True], ids=["cli", "api"])
def test_an_import_of_several_batches_leaves_the_name_index_merged(
    foyer_app, tenant, connection, tmp_path, api
):
    """Each batch commits a segment of SQLite's name-search index; three stay apart
    (SQLite merges four at a time), so only the import's own merge leaves one. On
    PostgreSQL the batches queue their rows in the GIN index's pending list."""
    rows = [{"email": f"user{n}@example.com", "name": f"User {n}"} for n in range(7)]
    with foyer_app.app_context():
        if not textsearch.has_trigram_index("user"):
            pytest.skip("no trigram index here: nothing to fold in")
        textsearch.compact("user")
        if api:
            report = bulk.import_rows(enumerate(rows, start=1), tenant, connection, batch_size=3)
            assert (report.imported, report.finished) == (7, True)
        else:
            path = write_lines(tmp_path / "users.jsonl", *rows)
            bulk.check_file(path)
            assert bulk.import_users(path, tenant, connection, batch_size=3).imported == 7
        postgresql = session.get_bind().dialect.name == "postgresql"
        assert textsearch.compact("user") == (0 if postgresql else 1)  # nothing left to do


def test_an_import_of_one_batch_does_not_merge(foyer_app, tenant, connection, monkeypatch):
    merged: list[str] = []
    monkeypatch.setattr(bulk, "compact", merged.append)
    rows = [{"email": f"user{n}@example.com"} for n in range(7)]
    with foyer_app.app_context():
        bulk.import_rows(enumerate(rows[:3], start=1), tenant, connection, batch_size=3)
        assert merged == []
        # the three already there are skipped, not imported: four new ones in two batches
        bulk.import_rows(enumerate(rows, start=1), tenant, connection, batch_size=3)
    assert merged == ["user"]


def test_an_index_that_cannot_be_merged_does_not_fail_the_import(
    foyer_app, tenant, connection, monkeypatch, caplog
):
    """The users are in once the last batch commits; a merge refused (the database busy
    past its timeout) leaves the searches slower, not the import failed."""

    def busy(_table: str) -> int:
        raise sa.exc.OperationalError("merge", {}, Exception("database is locked"))

    monkeypatch.setattr(bulk, "compact", busy)
    rows = [{"email": f"user{n}@example.com"} for n in range(7)]
    with foyer_app.app_context():
        report = bulk.import_rows(enumerate(rows, start=1), tenant, connection, batch_size=3)
    assert (report.imported, report.finished) == (7, True)
    assert len(users_of(connection)) == 7
    assert "not merged after the import: database is locked" in caplog.text
