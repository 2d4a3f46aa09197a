"""Bad settings stop Foyer at start with a line naming the variable; ``foyer apply`` keeps
all of a file or nothing; the ``foyer db`` commands say once what they did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.config import Settings
from app.config import SettingsError
from app.configfile.apply import apply_text
from app.db import session
from app.oidc import keys
from app.oidc.models import SigningKey
from app.tenancy.models import Tenant
from app.tenancy.models import TenantDomain

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "Zx8-uQ2vT5kLm9pRs3wYb7nHc4jDf6gA1eK0iOqW"
FERNET_KEY = "u5GEH2idfqoSjRHH9OOwu6s0YCytITc9T13fFtZdRA8="  # a valid key, fixed: stable test ids


@pytest.mark.parametrize(
    ("secret_key", "complaint"),
    [
        ("x", "FOYER_SECRET_KEY is 1 characters long"),
        ("changeme-changeme-changeme-changeme", "FOYER_SECRET_KEY is too predictable"),
        ("a" * 64, "FOYER_SECRET_KEY is too predictable"),
        ("0123456789abcdef0123456789abcdef", "FOYER_SECRET_KEY is too predictable"),
    ],
)
def test_weak_secret_keys_are_refused(tmp_path, secret_key, complaint):
    with pytest.raises(SettingsError, match=complaint):
        Settings.load({"instance_path": str(tmp_path), "secret_key": secret_key})


def test_generated_and_random_keys_pass(tmp_path):
    settings = Settings.load({"instance_path": str(tmp_path)})  # generated on first start
    assert len(settings.secret_key) >= 32
    Settings.load({"instance_path": str(tmp_path), "secret_key": os.urandom(32).hex()})


@pytest.mark.parametrize("mib", ["1", "4097", "lots"])
def test_the_sqlite_page_cache_is_checked_at_start(tmp_path, monkeypatch, mib):
    monkeypatch.setenv("FOYER_SQLITE_CACHE_MIB", mib)
    with pytest.raises(SettingsError, match="FOYER_SQLITE_CACHE_MIB"):
        Settings.load({"instance_path": str(tmp_path), "secret_key": GOOD_KEY})


def test_a_setting_that_is_not_a_number_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("FOYER_CACHE_SECONDS", "five")
    with pytest.raises(SettingsError, match="FOYER_CACHE_SECONDS is 'five', which is not a whole"):
        Settings.load({"instance_path": str(tmp_path), "secret_key": GOOD_KEY})


def test_the_sqlite_page_cache_is_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FOYER_SQLITE_CACHE_MIB", "256")
    settings = Settings.load({"instance_path": str(tmp_path), "secret_key": GOOD_KEY})
    assert settings.sqlite_cache_mib == 256


@pytest.mark.parametrize(
    ("keys", "complaint"),
    [
        ("not-a-key", "key 1 of 1 is not a Fernet key"),
        (f"{FERNET_KEY},short", "key 2 of 2 is not a Fernet key"),
        (" , ", "FOYER_ENCRYPTION_KEYS holds no key"),
    ],
)
def test_encryption_keys_are_parsed_at_start(tmp_path, keys, complaint):
    with pytest.raises(SettingsError, match=complaint):
        Settings.load(
            {"instance_path": str(tmp_path), "secret_key": GOOD_KEY, "encryption_keys": keys}
        )


def foyer(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bad_settings_end_a_command_with_one_line(tmp_path):
    env = {"FOYER_INSTANCE_PATH": str(tmp_path), "FOYER_SECRET_KEY": "x"}
    done = foyer("run", "--port", "1", env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("error: FOYER_SECRET_KEY is 1 characters long")
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1


def test_foyer_run_refuses_a_request_timeout_that_is_no_whole_number(tmp_path):
    env = {"FOYER_INSTANCE_PATH": str(tmp_path), "FOYER_REQUEST_TIMEOUT": "30s"}
    done = foyer("run", "--port", "1", env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (
        "error: FOYER_REQUEST_TIMEOUT must be a whole number of seconds, not '30s'\n"
    )


def test_foyer_run_refuses_an_unreachable_database_and_redis(tmp_path):
    env = {
        "FOYER_INSTANCE_PATH": str(tmp_path),
        "FOYER_DATABASE_URL": "postgresql+psycopg://foyer@127.0.0.1:1/foyer",
        "FOYER_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    done = foyer("run", "--port", "1", env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "error: the database at postgresql+psycopg://foyer@127.0.0.1:1/foyer cannot be " in (
        done.stderr
    )
    assert "error: Redis at redis://127.0.0.1:1/0 cannot be reached" in done.stderr
    assert "Traceback" not in done.stderr


def test_foyer_run_refuses_a_plain_http_domain_in_production(tmp_path, foyer_app, tenant):
    session.add(TenantDomain(tenant_id=tenant.id, hostname="login.example.com", scheme="http"))
    session.add(TenantDomain(tenant_id=tenant.id, hostname="localhost", scheme="http", port=5))
    session.commit()
    settings = foyer_app.extensions["foyer.settings"]
    env = {
        "FOYER_INSTANCE_PATH": settings.instance_path,
        "FOYER_DATABASE_URL": settings.database_url,
        "FOYER_SECRET_KEY": settings.secret_key,
        "FOYER_ENCRYPTION_KEYS": settings.encryption_keys,
        "FOYER_REDIS_URL": settings.redis_url,
    }
    done = foyer("run", "--port", "1", env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "error: the domain http://login.example.com is served over plain http" in done.stderr
    assert "http://localhost" not in done.stderr  # plain http stays fine on loopback


def test_db_upgrade_on_an_empty_database_says_so_once(tmp_path):
    env = {"FOYER_INSTANCE_PATH": str(tmp_path)}
    first = foyer("db", "upgrade", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("database migrated from (empty) to 20")
    assert len(first.stdout.splitlines()) == 1 and "not current" not in first.stderr
    again = foyer("db", "upgrade", env=env, cwd=tmp_path)
    assert again.stdout.startswith("database is already at 20")


CONFIG = """
version: 1
tenant:
  name: acme-apply
  display_name: Acme
  domains: [https://apply.example.com]
connections:
  - name: users
    strategy: database
organizations:
  - name: north
    display_name: North
    connections: [users]
"""


def test_apply_is_one_transaction_even_when_the_keys_fail(foyer_app, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("the key could not be made")

    monkeypatch.setattr(keys, "_new_key", broken)
    with pytest.raises(RuntimeError):
        apply_text(CONFIG)
    assert session.scalar(sa.select(Tenant).where(Tenant.name == "acme-apply")) is None

    monkeypatch.undo()
    apply_text(CONFIG)
    tenant = session.scalar(sa.select(Tenant).where(Tenant.name == "acme-apply"))
    assert tenant is not None
    states = session.scalars(sa.select(SigningKey.state).where(SigningKey.tenant_id == tenant.id))
    assert sorted(states) == ["current", "next"]


def test_the_demo_warns_about_an_unreachable_redis_and_starts_all_the_same(tmp_path):
    env = {"FOYER_REDIS_URL": "redis://127.0.0.1:1/0"}
    done = foyer("demo", "--seed-only", "--instance", str(tmp_path / "demo"), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning: Redis at redis://127.0.0.1:1/0 cannot be reached" in done.stderr
    assert "Demo accounts" in done.stdout
