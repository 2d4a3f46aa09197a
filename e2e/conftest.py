"""End-to-end harness: a real Foyer (gunicorn) and a real Chromium, driven by Playwright.

By default each test session (each xdist worker) seeds a throwaway instance and starts
gunicorn on a free loopback port. ``--base-url URL --accounts FILE`` runs the same suite
against any deployment instead (staging, a customer theme...). Selectors are roles, labels
and stable ids only, so the suite passes unchanged on every theme. On failure a screenshot
and a Playwright trace are kept under ``e2e-artifacts/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import typing as t
import urllib.request
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.federation.github_api import GitHub
from tests.federation.upstream_idp import UpstreamIdp
from tests.federation.upstream_idp import missing

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "e2e-artifacts"
CHROMIUM = os.environ.get("FOYER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(ROOT / "e2e"):
            item.add_marker(pytest.mark.e2e)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Deployment(t.NamedTuple):
    """What a scenario needs to know about the Foyer under test."""

    base_url: str
    accounts: dict[str, t.Any]
    """{"client": {client_id, client_secret, redirect_uri, post_logout_redirect_uri},
        "users": {"alice": {"email", "password"}, "blocked": {...}}}"""
    mailbox: t.Any = None
    """The local run's SMTP server (e2e/mailbox.py), or None against another deployment."""
    env: dict[str, str] | None = None
    """Environment to run ``foyer`` commands against the local run (None elsewhere)."""


@pytest.fixture(scope="session")
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> t.Iterator[Deployment]:
    base_url = request.config.getoption("--base-url")
    if base_url:
        accounts_file = request.config.getoption("--accounts")
        if not accounts_file:
            raise pytest.UsageError("--base-url needs --accounts FILE")
        yield Deployment(base_url.rstrip("/"), json.loads(Path(accounts_file).read_text()))
        return
    theme = request.config.getoption("--theme")
    yield from _local_deployment(tmp_path_factory.mktemp("e2e"), theme)


def _local_deployment(workdir: Path, theme: str | None = None) -> t.Iterator[Deployment]:
    """Foyer under gunicorn with its peers: the customer's IdP, a GitHub stand-in, a mailbox
    and the applications' pages. Whatever started is stopped, the set-up failing included."""
    with contextlib.ExitStack() as started:
        # Foyer's port is held by a bound socket until gunicorn takes it: the peers started
        # meanwhile each bind a port of the system's choosing, which could otherwise be it
        held = started.enter_context(socket.socket())
        held.bind(("127.0.0.1", 0))
        port = int(held.getsockname()[1])
        applications = _start_application_stub(0)  # bound at once: its port is its own
        started.callback(applications.shutdown)
        rp_port = int(applications.server_address[1])
        env = {
            **os.environ,
            "FOYER_INSTANCE_PATH": str(workdir / "instance"),
            "FOYER_SECURE_COOKIES": "false",
            "FOYER_PLUGINS_DIR": str(workdir / "plugins"),
            # every scenario signs in from 127.0.0.1: the limits are tested in tests/login
            "FOYER_RATE_LIMIT_LOGIN": "600 per minute",
            # the customer's IdP of the federation scenarios listens on loopback
            "FOYER_OUTBOUND_ALLOW": "127.0.0.0/8,::1/128,localhost",
        }
        env.pop("FOYER_DATABASE_URL", None)
        if theme:
            env["FOYER_E2E_THEME"] = theme
        from e2e.mailbox import Mailbox

        mailbox = Mailbox()
        mailbox.start(free_port())
        started.callback(mailbox.stop)
        env["FOYER_SMTP_URL"] = f"smtp://127.0.0.1:{mailbox.port}"
        idp = _start_upstream_idp(workdir, port)
        if idp is not None:
            started.callback(idp.stop)
            env["FOYER_E2E_UPSTREAM_ISSUER"] = idp.issuer
        github = _start_github()
        started.callback(github.stop)
        env["FOYER_E2E_GITHUB_URL"] = github.base
        seeded = subprocess.run(
            [sys.executable, str(ROOT / "e2e" / "seed.py"), str(port), str(rp_port)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if seeded.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{seeded.stdout}\n{seeded.stderr}")
        accounts = json.loads(seeded.stdout)
        log = started.enter_context(open(workdir / "gunicorn.log", "w"))  # noqa: SIM115
        held.close()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--no-control-socket",
                "--graceful-timeout",
                "5",
                "app.wsgi:app",
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.callback(_stop, server)
        base_url = f"http://localhost:{port}"
        _wait_until_up(f"{base_url}/.well-known/openid-configuration", server, workdir)
        yield Deployment(base_url, accounts, mailbox, env)


UPSTREAM_PERSON = {
    "sub": "una",
    "email": "una@umbrella.e2e.test",
    "email_verified": True,
    "name": "Una Umbrella",
}
"""The person the customer's IdP knows (its login is the ``sub``)."""


def _start_upstream_idp(workdir: Path, port: int) -> UpstreamIdp | None:
    """The customer's enterprise IdP (npm's oidc-provider) for the federation scenarios;
    None without Node.js (a failure under CI)."""
    why = missing()
    if why:
        if os.environ.get("CI"):
            raise RuntimeError(why)
        return None
    idp = UpstreamIdp(workdir / "idp", [f"http://localhost:{port}/login/callback"])
    idp.person(**UPSTREAM_PERSON)
    return idp


GITHUB_PERSON = {
    "login": "octo-umbrella",
    "id": 583231,
    "name": "Octo Umbrella",
    "emails": [{"email": "octo@umbrella-social.e2e.test", "primary": True, "verified": True}],
}
"""The GitHub account the social scenario signs in with (the stand-in approves it)."""


def _start_github() -> GitHub:
    """A loopback stand-in for GitHub's OAuth and REST API (tests/federation/github_api.py),
    approving :data:`GITHUB_PERSON` for every browser."""
    github = GitHub()
    github.user(**GITHUB_PERSON)
    github.default_login = GITHUB_PERSON["login"]
    return github


class _ApplicationPage(BaseHTTPRequestHandler):
    """Stands in for the applications' redirect_uri pages: a plain "Back at the app"."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"<!doctype html><title>App</title><h1>Back at the app</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: t.Any) -> None:
        pass


def _start_application_stub(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _ApplicationPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL if it is still there after 10 s."""
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


def _wait_until_up(url: str, server: subprocess.Popen[bytes], workdir: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError((workdir / "gunicorn.log").read_text())
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Foyer did not start:\n{(workdir / 'gunicorn.log').read_text()}")


@pytest.fixture(scope="session")
def browser() -> t.Iterator[t.Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        message = f"no Chromium at {CHROMIUM}: install Debian's chromium package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: t.Any, request: pytest.FixtureRequest) -> t.Iterator[t.Any]:
    """A fresh browser context (no cookies) per test, traced; artifacts kept on failure."""
    context = browser.new_context(locale="en-US")
    context.tracing.start(screenshots=True, snapshots=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = request.node.nodeid.replace("/", "_").replace("::", "__")
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        context.tracing.stop(path=str(ARTIFACTS / f"{name}.trace.zip"))
    else:
        context.tracing.stop()
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> t.Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
