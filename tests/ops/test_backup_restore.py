"""``foyer backup`` and ``foyer restore``: a round trip through an empty database (SQLite,
or PostgreSQL with FOYER_TEST_DATABASE_URL) keeps every row, keys, passwords, two-step
authenticators and refresh-token families; bad archives and non-empty databases are
refused with one line."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
import shlex
import sys
import time
import types
import typing as t
import uuid
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.accounts import mfa
from app.backup import archive as archive_format
from app.backup.cli import progress_bar
from app.backup.cli import register_commands
from app.backup.service import canonical_dump
from app.backup.tables import EVENTS
from app.backup.tables import EXCLUDED
from app.backup.tables import backed_up_tables
from app.backup.tables import tenant_scope
from app.cli import cli
from app.clikit import AppContext
from app.db import session
from app.migrate import upgrade
from app.models import metadata
from app.orgs.invitations import invite
from app.orgs.services import add_member
from app.tenancy.services import create_tenant
from app.testing import USER_PASSWORD
from app.testing import decode_jwt
from app.testing import host_client
from app.testing import login
from app.testing import run_authorization_code_flow
from app.testing import running_app
from app.testing import submit_form
from app.testing import throwaway_settings
from app.testing import token_request

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "a long backup passphrase"
register_commands(cli)


def foyer(app, *args: str, passphrase: str = PASSPHRASE):
    return CliRunner().invoke(
        cli, list(args), obj=AppContext(app), env={"FOYER_BACKUP_PASSPHRASE": passphrase}
    )


class Clock:
    """The time the two-step code checks see."""

    def __init__(self) -> None:
        self.now = time.time()


@pytest.fixture(autouse=True)
def cheap_key_derivation(monkeypatch) -> None:
    """scrypt at 4 MiB instead of 128 MiB (the archive records its cost, readers follow it),
    and 256-byte frames, so that a damaged last frame is found after rows were inserted."""
    monkeypatch.setattr(archive_format, "SCRYPT_N", 2**12)
    monkeypatch.setattr(archive_format, "FRAME", 256)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(mfa, "time", types.SimpleNamespace(time=lambda: clock.now))
    return clock


@pytest.fixture
def empty_database_url(tmp_path) -> t.Iterator[str]:
    """A database with nothing in it, not even the schema: where a restore goes."""
    admin_url = os.environ.get("FOYER_TEST_DATABASE_URL")
    if not admin_url:
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    name = f"foyer_restore_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@contextlib.contextmanager
def other_app(source, url: str, folder) -> t.Iterator[t.Any]:
    """A second deployment on ``url`` with the source's keys (FOYER_SECRET_KEY and
    FOYER_ENCRYPTION_KEYS), as an operator restoring elsewhere would set them."""
    settings = source.extensions["foyer.settings"]
    config = throwaway_settings(folder, url)
    config.update(secret_key=settings.secret_key, encryption_keys=settings.encryption_keys)
    with running_app(config) as app:
        yield app


def refresh(browser, oidc_client, refresh_token):
    model, secret = oidc_client
    return token_request(
        browser, model, secret, grant_type="refresh_token", refresh_token=refresh_token
    )


def test_every_table_is_backed_up_or_excluded_with_a_reason():
    backed_up = {table.name for table in backed_up_tables(events=True)}
    for table in metadata.sorted_tables:
        assert (table.name in backed_up) != (table.name in EXCLUDED), table.name
    assert all(len(reason) > 20 for reason in EXCLUDED.values())
    assert EVENTS not in {table.name for table in backed_up_tables(events=False)}
    for table in backed_up_tables(events=True):
        assert tenant_scope(table, ["x"]) is not None, f"{table.name} has no way to its tenant"
        # a restore inserts keys as they were and resets no sequence: keys are random strings
        assert all(isinstance(c.type, sa.String) for c in table.primary_key.columns), table.name


def test_progress_is_a_bar_on_a_terminal_and_silent_otherwise(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream, drawn in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        with progress_bar("backing up")(10) as advance:
            advance(4)
            advance(6)
        assert ("backing up" in stream.getvalue() and "100%" in stream.getvalue()) == drawn
        assert bool(stream.getvalue()) == drawn


def test_round_trip_keeps_rows_keys_passwords_authenticators_and_token_families(
    foyer_app,
    tenant,
    make_user,
    oidc_client,
    make_organization,
    make_connection,
    clock,
    tmp_path,
    empty_database_url,
):
    model, secret = oidc_client
    alice = make_user(email="alice@example.com", email_verified=True)
    bob = make_user(email="bob@example.com", email_verified=True)
    enrollment = mfa.start_enrollment(alice, "Acme")
    totp = pyotp.TOTP(enrollment.secret)
    assert mfa.confirm_enrollment(alice, totp.at(clock.now))
    # the organization's own connection: the tenant's users sign in without choosing it
    org = make_organization("globex", connections=[make_connection("globex-users")])
    add_member(org, alice, ["admin"])
    add_member(org, bob, [])
    session.commit()
    invite(org, "carol@example.com", ["member"], send=False)

    browser = host_client(foyer_app)
    kept = run_authorization_code_flow(
        browser, model, secret, "bob@example.com", USER_PASSWORD, scope="openid offline_access"
    ).tokens
    doomed = run_authorization_code_flow(
        host_client(foyer_app),
        model,
        secret,
        "bob@example.com",
        USER_PASSWORD,
        scope="openid offline_access",
    ).tokens
    rotated = refresh(browser, oidc_client, doomed["refresh_token"]).get_json()
    replay = refresh(browser, oidc_client, doomed["refresh_token"])
    assert replay.get_json()["error"] == "invalid_grant"  # reuse: the family is revoked
    source_jwks = browser.get("/.well-known/jwks.json").get_json()

    archive = tmp_path / "all.foyer-backup"
    made = foyer(foyer_app, "backup", "--all", "--events", "-o", str(archive))
    assert made.exit_code == 0, made.output
    before = canonical_dump(archive.open("rb"), PASSPHRASE)
    assert before["user"] and before["totp_factor"] and before["refresh_token"]
    assert before["event"] and before["invitation"] and before["membership"]
    assert not any(name in before for name in EXCLUDED)

    with other_app(foyer_app, empty_database_url, tmp_path / "restored") as restored:
        done = foyer(restored, "restore", str(archive))
        assert done.exit_code == 0, done.output
        again = tmp_path / "again.foyer-backup"
        assert foyer(restored, "backup", "--all", "--events", "-o", str(again)).exit_code == 0
        assert canonical_dump(again.open("rb"), PASSPHRASE) == before

        there = host_client(restored)
        assert there.get("/.well-known/jwks.json").get_json() == source_jwks
        claims = decode_jwt(there, kept["id_token"])  # verified against the restored JWKS
        assert claims["iss"] == "https://login.test"
        assert refresh(there, oidc_client, kept["refresh_token"]).status_code == 200
        answer = refresh(there, oidc_client, rotated["refresh_token"])
        assert answer.get_json()["error"] == "invalid_grant"  # revoked stays revoked

        assert login(host_client(restored), "bob@example.com", USER_PASSWORD).status_code == 303
        alice_browser = host_client(restored)
        step = login(alice_browser, "alice@example.com", USER_PASSWORD)
        assert "/login/mfa?tx=" in step.headers["Location"]
        clock.now += totp.interval  # the enrolment's code was used up
        page = alice_browser.get(step.headers["Location"])
        signed_in = submit_form(alice_browser, page, "mfa-form", code=totp.at(clock.now))
        assert signed_in.status_code == 303 and "/login/mfa" not in signed_in.headers["Location"]
        assert alice_browser.get("/account").status_code == 200


def test_a_tenant_backup_restores_only_that_tenant(
    foyer_app, tenant, user, tmp_path, empty_database_url
):
    other = create_tenant("initech", "Initech", ["https://login.initech.test"])
    session.commit()
    archive = tmp_path / "acme.foyer-backup"
    assert foyer(foyer_app, "backup", "--tenant", "acme", "-o", str(archive)).exit_code == 0
    rows = canonical_dump(archive.open("rb"), PASSPHRASE)
    assert [row[rows_column(archive, "tenant", "name")] for row in rows["tenant"]] == ["acme"]
    assert "event" not in rows  # only with --events
    with other_app(foyer_app, empty_database_url, tmp_path / "restored") as restored:
        assert foyer(restored, "restore", str(archive)).exit_code == 0
        names = session.scalars(sa.select(metadata.tables["tenant"].c.name)).all()
        assert names == ["acme"] and other.name not in names
        users = session.scalars(sa.select(metadata.tables["user"].c.email)).all()
        assert users == [user.email]
        assert login(host_client(restored), user.email, USER_PASSWORD).status_code == 303


def rows_column(archive, table: str, column: str) -> int:
    """The position of ``column`` in the archive's rows of ``table``."""
    for record in archive_format.read_records(archive.open("rb"), PASSPHRASE):
        if isinstance(record, dict) and record.get("table") == table:
            return list(record["columns"]).index(column)
    raise AssertionError(f"no table {table}")


@pytest.fixture
def archive(foyer_app, tenant, user, tmp_path):
    path = tmp_path / "acme.foyer-backup"
    assert foyer(foyer_app, "backup", "--tenant", "acme", "-o", str(path)).exit_code == 0
    return path


def test_wrong_passphrase_is_one_clear_line(foyer_app, archive, tmp_path, empty_database_url):
    with other_app(foyer_app, empty_database_url, tmp_path / "restored") as restored:
        upgrade(restored.extensions["foyer.db"])  # a refused archive leaves no schema to clean
        result = foyer(restored, "restore", str(archive), passphrase="not the passphrase")
        assert result.exit_code == 1
        assert result.output.strip() == "error: wrong passphrase for this backup"
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_truncated_or_altered_archive_is_refused_and_nothing_is_restored(
    foyer_app, archive, tmp_path, empty_database_url
):
    data = archive.read_bytes()
    truncated = tmp_path / "truncated.foyer-backup"
    truncated.write_bytes(data[: len(data) - 10])
    frames_at = data.index(b"\n", len(archive_format.MAGIC)) + 1
    frame = 4 + archive_format.FRAME + 16  # length, ciphertext, tag
    frames = -(-(len(data) - frames_at) // frame)
    assert frames > 4  # rows are inserted before the damaged frame is read
    spot = frames_at + (frames - 2) * frame + 4 + 100  # in the last frame but one's ciphertext
    altered = tmp_path / "altered.foyer-backup"
    altered.write_bytes(data[:spot] + bytes([data[spot] ^ 1]) + data[spot + 1 :])
    with other_app(foyer_app, empty_database_url, tmp_path / "restored") as restored:
        upgrade(restored.extensions["foyer.db"])
        cut = foyer(restored, "restore", str(truncated))
        assert cut.exit_code == 1 and "truncated" in cut.output, cut.output
        changed = foyer(restored, "restore", str(altered))
        assert changed.exit_code == 1, changed.output
        expected = f"error: the backup is damaged: part {frames - 1} was altered"
        assert changed.output.strip() == expected
        assert session.scalar(sa.select(sa.func.count()).select_from(metadata.tables["user"])) == 0
        assert foyer(restored, "restore", str(archive)).exit_code == 0  # still empty


def test_not_a_backup_a_newer_format_and_a_newer_schema_are_refused(
    foyer_app, archive, tmp_path, empty_database_url
):
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    newer = tmp_path / "newer.foyer-backup"
    newer.write_bytes(archive.read_bytes().replace(b'"format": 1', b'"format": 9', 1))
    later = tmp_path / "later.foyer-backup"
    with later.open("wb") as out:
        writer = archive_format.ArchiveWriter(out, PASSPHRASE)
        writer.write({"manifest": {"revision": "29991231_0000", "foyer": "9.0", "rows": {}}})
        writer.write({"end": {}})
        writer.close()
    with other_app(foyer_app, empty_database_url, tmp_path / "restored") as restored:
        upgrade(restored.extensions["foyer.db"])
        result = foyer(restored, "restore", str(other))
        assert result.output.strip() == "error: this is not a Foyer backup"
        result = foyer(restored, "restore", str(newer))
        assert result.exit_code == 1 and "newer than this Foyer reads" in result.output
        result = foyer(restored, "restore", str(later))
        assert result.exit_code == 1, result.output
        assert "made by Foyer 9.0 (schema 29991231_0000), newer than this Foyer" in result.output


def test_restore_into_a_database_with_rows_is_refused(foyer_app, archive):
    result = foyer(foyer_app, "restore", str(archive))
    assert result.exit_code == 1
    assert (
        "the database is not empty" in result.output and "restore needs an empty" in result.output
    )


def test_backup_needs_a_scope_a_known_tenant_and_a_long_passphrase(foyer_app, tenant, tmp_path):
    out = str(tmp_path / "x.foyer-backup")
    assert "--tenant NAME" in foyer(foyer_app, "backup", "-o", out).output
    assert (
        "no tenant named 'nope'" in foyer(foyer_app, "backup", "--tenant", "nope", "-o", out).output
    )
    short = foyer(foyer_app, "backup", "--all", "-o", out, passphrase="short")
    assert "too short" in short.output
    assert not os.path.exists(out) and not os.path.exists(out + ".partial")


def doc_blocks() -> list[str]:
    """The shell blocks of docs/operating.md's "Backup and restore" that run foyer."""
    text = (ROOT / "docs" / "operating.md").read_text()
    section = text.split("## Backup and restore\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [block for block in blocks if re.search(r"^foyer (backup|restore) ", block, re.M)]


def commands(block: str) -> list[list[str]]:
    """The arguments of each ``foyer`` line of a shell block, as the shell would split them."""
    today = dt.date.today().isoformat()
    lines = [
        shlex.split(line.replace("$(date +%F)", today), comments=True)
        for line in block.splitlines()
    ]
    return [words[1:] for words in lines if words and words[0] == "foyer"]


def test_the_operating_guide_commands_run_as_written(
    foyer_app, tenant, user, oidc_client, tmp_path, empty_database_url, monkeypatch
):
    backup_block, restore_block = doc_blocks()
    monkeypatch.chdir(tmp_path)
    for args in commands(backup_block):
        made = foyer(foyer_app, *args)
        assert made.exit_code == 0, made.output
    assert len(list(tmp_path.glob("*.foyer-backup"))) == 2
    with other_app(foyer_app, empty_database_url, tmp_path / "restored") as restored:
        (args,) = commands(restore_block)
        done = foyer(restored, *args)
        assert done.exit_code == 0, done.output
        assert "restored" in done.output and "(acme)" in done.output
        assert login(host_client(restored), user.email, USER_PASSWORD).status_code == 303
        again = foyer(restored, *args)
        assert again.exit_code == 1 and "the database is not empty" in again.output
