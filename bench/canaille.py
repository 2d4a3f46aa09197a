"""Canaille (Flask + Authlib, from PyPI) as a peer measured in the same run as Foyer.

It is installed in its own virtual environment under ``~/.cache/foyer-bench`` (never in
Foyer's), configured like the bench tenant (a trusted web client with RS256 ID tokens, a
machine client, one user with a password), keeps its data in SQLite and is served by
gunicorn sync workers, as Foyer is by default.

    python3 -m venv ~/.cache/foyer-bench/canaille-venv
    ~/.cache/foyer-bench/canaille-venv/bin/pip install "canaille[oidc,sqlite,front]" gunicorn
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import typing as t
from pathlib import Path

from joserfc.jwk import RSAKey

from bench.http import Client
from bench.http import UnexpectedResponse
from bench.http import expect
from bench.scenarios import REDIRECT_URI
from bench.scenarios import Target
from bench.server import Server
from bench.server import wait_for_workers

VENV = Path.home() / ".cache" / "foyer-bench" / "canaille-venv"
USERS = 100
"""Canaille's access tokens for a user are JWTs without a unique claim: two issued to one
user and client within the same second are the same string, and the second one fails its
database's unique constraint (a 500). Each thread of the load generator therefore takes
turns among :data:`BROWSERS` signed-in users, and a user waits
:data:`REUSE_SECONDS` between two token requests (the client sleeps: no server CPU)."""
BROWSERS = 20
REUSE_SECONDS = 1.1
PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway bench account

CSRF = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')


class Unavailable(Exception):
    """Canaille cannot be installed or run here (the message says why)."""


def version() -> str:
    found = list((VENV / "lib").glob("python*/site-packages/canaille-*.dist-info"))
    return found[0].name.removesuffix(".dist-info").split("-")[1] if found else "?"


def _run(folder: Path, *args: str) -> str:
    done = subprocess.run(
        [str(VENV / "bin" / "canaille"), *args],
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", "CONFIG": str(folder / "canaille.toml")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise Unavailable(f"`canaille {' '.join(args[:2])}` failed: {done.stderr[-600:]}")
    return done.stdout


CREATE_USERS = """
import sys
from canaille import create_app
from canaille.app import models
from canaille.backends import Backend

app = create_app()
with app.app_context(), Backend.instance.session():
    for n in range(int(sys.argv[1])):
        Backend.instance.save(models.User(
            user_name=f"ada{n}", given_name="Ada", family_name="Bench",
            emails=[f"ada{n}@bench.example"], password=sys.argv[2],
        ))
"""


def _create_users(folder: Path, count: int) -> None:
    done = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", CREATE_USERS, str(count), PASSWORD],
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", "CONFIG": str(folder / "canaille.toml")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise Unavailable(f"creating users failed: {done.stderr[-600:]}")


def _config(folder: Path, port: int, key: dict[str, t.Any]) -> str:
    jwk = ", ".join(f"{k} = {json.dumps(v)}" for k, v in key.items())
    return f"""SECRET_KEY = "bench-{port}-secret"
SERVER_NAME = "localhost:{port}"
PREFERRED_URL_SCHEME = "http"
WTF_CSRF_ENABLED = true

[CANAILLE]
NAME = "Canaille bench"
DATABASE = "sql"
JAVASCRIPT = false
CAPTCHA_ENABLED = false
ENABLE_PASSWORD_COMPROMISSION_CHECK = false
LOGGING = {{ version = 1, root = {{ level = "WARNING" }} }}

[CANAILLE.ACL.DEFAULT]
PERMISSIONS = ["edit_self", "use_oidc"]
READ = ["user_name", "emails", "given_name", "family_name"]

[CANAILLE_SQL]
DATABASE_URI = "sqlite:///{folder}/canaille.sqlite"

[CANAILLE_OIDC]
REQUIRE_NONCE = true
ACTIVE_JWKS = [{{ {jwk} }}]
"""


def start(port: int, secret: str, workdir: Path, workers: int) -> tuple[Server, Target]:
    """Install Canaille's database, user and clients in ``workdir``, serve it on ``port``."""
    if not (VENV / "bin" / "canaille").exists():
        raise Unavailable(f"not installed in {VENV} (see bench/canaille.py)")
    folder = workdir / "canaille"
    folder.mkdir(exist_ok=True)
    key = RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"}, auto_kid=True)
    (folder / "canaille.toml").write_text(_config(folder, port, key.as_dict(private=True)))
    _run(folder, "install")
    _create_users(folder, USERS)
    common = ["--client-secret", secret, "--token-endpoint-auth-method", "client_secret_basic"]
    _run(
        folder,
        "create",
        "client",
        "--client-id",
        "bench-rp",
        "--client-name",
        "bench-rp",
        "--client-uri",
        "http://127.0.0.1:9",
        "--redirect-uris",
        REDIRECT_URI,
        "--grant-types",
        "authorization_code",
        "--grant-types",
        "refresh_token",
        "--response-types",
        "code",
        "--scope",
        "openid profile email offline_access",
        "--id-token-signed-response-alg",
        "RS256",
        *common,
    )
    _run(
        folder,
        "create",
        "client",
        "--client-id",
        "bench-m2m",
        "--client-name",
        "bench-m2m",
        "--client-uri",
        "http://127.0.0.1:9",
        "--grant-types",
        "client_credentials",
        "--scope",
        "api.read",
        *common,
    )
    log = workdir / f"canaille-{port}.log"
    process = subprocess.Popen(
        [
            str(VENV / "bin" / "gunicorn"),
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",
            "--timeout",
            "120",
            "canaille:create_app()",
        ],
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", "CONFIG": str(folder / "canaille.toml")},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    server = Server(process, port, log)
    server.name = "canaille"
    target = Target(
        name="canaille",
        port=port,
        host=f"localhost:{port}",
        client_secret=secret,
        authorize_path="/oauth/authorize",
        token_path="/oauth/token",
        jwks_path="/oauth/jwks.json",
        userinfo_path="/oauth/userinfo",
        sso_scope="openid profile email",
        login=login([f"ada{n}" for n in range(USERS)], PASSWORD),
        browsers=BROWSERS,
        reuse_seconds=REUSE_SECONDS,
    )
    server.wait_until_up(f"http://127.0.0.1:{port}/.well-known/openid-configuration", target.host)
    wait_for_workers(server, workers)
    return server, target


def _csrf(page: t.Any) -> str:
    found = CSRF.search(page.body)
    if found is None:
        raise UnexpectedResponse("no csrf_token in Canaille's page", page)
    return found.group(1).decode()


def login(users: list[str], password: str) -> t.Callable[[Client, str, str], Client]:
    """Canaille's pages: the login form, then the password form, then back to authorize;
    each sign-in as the next of ``users``."""
    turns = itertools.cycle(users)

    def sign_in(browser: Client, location: str, _state: str) -> Client:
        user = next(turns)
        page = expect(browser.get(location), 200, "login page")
        sent = browser.post(location, {"csrf_token": _csrf(page), "login": user})
        if sent.status not in (302, 303):
            raise UnexpectedResponse("login not accepted", sent)
        page = expect(browser.get(sent.location), 200, "password page")
        done = browser.post(sent.location, {"csrf_token": _csrf(page), "password": password})
        if done.status not in (302, 303) or "authorize" not in done.location:
            raise UnexpectedResponse("password not accepted", done)
        browser.resume = done.location  # type: ignore[attr-defined]
        return browser

    return sign_in
