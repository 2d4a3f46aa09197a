"""A rolling upgrade: the database is migrated first, while nodes of the previous release
still serve (docs/operating.md, Rolling upgrades). Each migration only expands the schema
(tests/test_migrations.py), so code keeps serving a schema one release ahead of it. Here
this code plays the previous release, on a database a later release has expanded the way
the rule allows: a new table, a new nullable column and a new column with a server default
on tables a sign-in writes, and a revision this code does not know."""

from __future__ import annotations

import io
import subprocess
import tarfile
import typing as t
import urllib.parse
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from app.db import session
from app.testing import CLIENT_REDIRECT_URI
from app.testing import USER_PASSWORD
from app.testing import authorize
from app.testing import exchange_code
from app.testing import host_client
from app.testing import login
from app.testing import pkce_pair
from app.testing import token_request
from tests.ops.conftest import ROOT
from tests.security.conftest import HttpBrowser

FUTURE_REVISION = "29991231_0000"
EXPAND = [
    "CREATE TABLE future_release_note (id VARCHAR(36) PRIMARY KEY, body TEXT)",
    'ALTER TABLE "user" ADD COLUMN future_nickname VARCHAR(64)',
    "ALTER TABLE sso_session ADD COLUMN future_device VARCHAR(64)",
    "ALTER TABLE token_grant ADD COLUMN future_flag BOOLEAN DEFAULT FALSE NOT NULL",
]
CONTRACT = [
    "DROP TABLE future_release_note",
    'ALTER TABLE "user" DROP COLUMN future_nickname',
    "ALTER TABLE sso_session DROP COLUMN future_device",
    "ALTER TABLE token_grant DROP COLUMN future_flag",
]


@pytest.fixture
def expanded_by_a_later_release(foyer_app) -> t.Iterator[None]:
    engine = foyer_app.extensions["foyer.db"].engine
    session.commit()  # no transaction of the test's may hold a lock the DDL waits for
    with engine.begin() as connection:
        head = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        for statement in EXPAND:
            connection.execute(sa.text(statement))
        connection.execute(
            sa.text("UPDATE alembic_version SET version_num = :v"), {"v": FUTURE_REVISION}
        )
    try:
        yield
    finally:
        session.rollback()
        session.close()
        with engine.begin() as connection:
            for statement in CONTRACT:
                connection.execute(sa.text(statement))
            connection.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": head})


def test_the_previous_release_serves_a_schema_one_release_ahead(
    expanded_by_a_later_release, foyer_app, client, make_user, oidc_client
):
    ready = host_client(foyer_app, "10.0.0.5").get("/health/ready")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["checks"]["migrations"] == "ahead"

    user = make_user(email="carol@example.com", email_verified=True)  # rows it writes
    model, secret = oidc_client
    assert login(client, user.email, USER_PASSWORD).status_code == 303  # the hosted pages
    result = authorize(client, model, scope="openid email offline_access")
    tokens = exchange_code(client, model, result, secret)
    assert tokens.status_code == 200, tokens.get_json()
    refreshed = token_request(
        client,
        model,
        secret,
        grant_type="refresh_token",
        refresh_token=tokens.get_json()["refresh_token"],
    )
    assert refreshed.status_code == 200, refreshed.get_json()
    info = client.get(
        "/userinfo", headers={"Authorization": f"Bearer {refreshed.get_json()['access_token']}"}
    )
    assert info.status_code == 200 and info.get_json()["email"] == user.email


def previous_release(folder: Path) -> Path | None:
    """The previous release's code, extracted from git into ``folder``: the newest commit of
    this branch's first-parent history whose migrations are a strict subset of today's (its
    schema is one migration behind). None when git or the history is not at hand."""
    today = {path.name for path in (ROOT / "migrations" / "versions").glob("*.py")}

    def git(*args: str) -> bytes:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, check=True, timeout=60
        ).stdout

    try:
        commits = git("rev-list", "--first-parent", "--max-count=300", "HEAD").decode().split()
        for commit in commits:
            listed = git("ls-tree", "--name-only", commit, "migrations/versions/").decode()
            names = {Path(name).name for name in listed.split() if name.endswith(".py")}
            if names and names < today:
                archive = git("archive", commit, "app", "migrations", "themes", "translations")
                with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                    tar.extractall(folder, filter="data")
                return folder
    except (OSError, subprocess.CalledProcessError):
        return None
    return None


def test_the_previous_releases_own_code_serves_after_this_release_migrated(
    tmp_path, foyer_app, foyer_run, user, oidc_client
):
    """N and N+1 side by side: this release migrated the database (the test app did), and
    the previous release's own code, taken from git, still answers ready and signs in."""
    code = previous_release(tmp_path / "previous")
    if code is None:  # a shallow clone or an unpacked archive
        pytest.skip("no git history here to take the previous release's code from")
    node = foyer_run(PYTHONPATH=str(code))
    ready = requests.get(f"{node.base}/health/ready", headers={"Host": "10.0.0.5"}, timeout=30)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["migrations"] == "ahead"  # it is the older code that answers

    model, secret = oidc_client
    browser = HttpBrowser([node.base], "198.51.100.9")
    browser.session.headers["X-Forwarded-Proto"] = "https"  # as the TLS proxy in front says
    verifier, challenge = pkce_pair()
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": model.client_id,
            "redirect_uri": CLIENT_REDIRECT_URI,
            "scope": "openid email",
            "state": "s-1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    page = browser.get(f"/authorize?{query}")
    assert page.status_code == 200, page.text[:300]
    step = browser.submit(page, "login-identifier-form", identifier=user.email)
    page = browser.get(step.headers["Location"])
    step = browser.submit(page, "login-password-form", password=USER_PASSWORD)
    assert step.status_code == 303, step.text[:500]
    location = step.headers["Location"]
    while not location.startswith(CLIENT_REDIRECT_URI):  # /authorize/resume, then the client
        answer = browser.session.get(browser.url(location), allow_redirects=False, timeout=30)
        assert answer.status_code in (302, 303), answer.text[:500]
        location = answer.headers["Location"]
    code_value = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]
    tokens = browser.session.post(
        f"{node.base}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code_value,
            "redirect_uri": CLIENT_REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(model.client_id, secret),
        timeout=30,
    )
    assert tokens.status_code == 200, tokens.text
    assert "id_token" in tokens.json()
