"""Fixtures of the security tests: a real SMTP server, a tenant open to sign-up, both
counter backends, a clock the test moves, free ports, a real gunicorn and a private Redis."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
import typing as t
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from app.accounts.background import wait_for_background
from app.db import session
from app.security.counters import DatabaseCounters
from app.security.counters import RedisCounters
from app.security.counters import redis_client
from app.testing import read_form
from app.testing import submit_form
from e2e.mailbox import Mailbox
from tests.accounts.conftest import mails


@pytest.fixture
def mailbox(foyer_app) -> t.Iterator[Mailbox]:
    """The e2e suite's SMTP server (aiosmtpd) on a free loopback port, where Foyer's own
    SMTP delivery sends every email of the test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = Mailbox()
    box.start(port)
    foyer_app.extensions["foyer.settings"].smtp_url = f"smtp://127.0.0.1:{port}"
    try:
        yield box
    finally:
        wait_for_background(foyer_app)
        box.stop()


@pytest.fixture
def open_signup(connection):
    connection.signup_enabled = True
    session.commit()
    return connection


def signup(browser, email: str, password: str, name: str = "") -> t.Any:
    page = browser.get("/signup")
    return submit_form(browser, page, "signup-form", email=email, name=name, password=password)


def enter_code(browser, code: str) -> t.Any:
    page = browser.get("/signup/verify")
    if page.status_code != 200:
        return page
    return submit_form(browser, page, "signup-code-form", code=code)


ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("FOYER_TEST_REDIS_URL", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Clock:
    """Seconds since the epoch, moved by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock of attack protection (:func:`app.accounts.protection.now`), under test."""
    fake = Clock()
    monkeypatch.setattr("app.accounts.protection.now", fake)
    return fake


@pytest.fixture(params=["database", "redis"])
def backend(request: pytest.FixtureRequest, foyer_app: t.Any, monkeypatch: pytest.MonkeyPatch):
    """The app's counters on each backend: the database, and Redis (FOYER_TEST_REDIS_URL)."""
    if request.param == "database":
        counters = DatabaseCounters(foyer_app.extensions["foyer.db"])
    else:
        if not REDIS_URL:
            pytest.skip("FOYER_TEST_REDIS_URL is not set")
        counters = RedisCounters(redis_client(REDIS_URL), f"foyer-test:{uuid.uuid4().hex}:")
    monkeypatch.setitem(foyer_app.extensions, "foyer.counters", counters)
    return counters


class PrivateRedis:
    """A redis-server of this test alone, on a free loopback port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        """Start (or start again, on the same port)."""
        self.process = subprocess.Popen(
            [
                t.cast(str, shutil.which("redis-server")),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis_client(self.url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except Exception:  # redis.ConnectionError while it starts
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> t.Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


class Gunicorn:
    """``gunicorn app.wsgi:app`` with one worker on a free loopback port; the access log
    names the worker (pid) that served each request."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "gunicorn.log"
        self.access_path = workdir / "access.log"
        log = open(self.log_path, "w")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--no-control-socket",
                "--graceful-timeout",
                "5",
                "--access-logfile",
                str(self.access_path),
                "--access-logformat",
                "%(p)s %(m)s %(U)s %(s)s",
                "app.wsgi:app",
            ],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log_path.read_text())
            request = urllib.request.Request(
                f"{self.base_url}/.well-known/openid-configuration",
                headers={"Host": "login.test"},
            )
            try:
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not start:\n{self.log_path.read_text()}")

    def workers_that_served(self, path: str) -> set[str]:
        """The pids of the workers that answered POSTs to ``path``."""
        lines = self.access_path.read_text().splitlines() if self.access_path.exists() else []
        return {line.split()[0] for line in lines if f"POST {path} " in line}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class Workers:
    """Two single-worker gunicorns on one database: two workers the test sends requests to
    in turn, so which worker serves a request is the test's choice, not the kernel's."""

    def __init__(self, servers: list[Gunicorn]) -> None:
        self.servers = servers
        self.base_urls = [server.base_url for server in servers]

    def workers_that_served(self, path: str) -> set[str]:
        """The pids of the workers that answered POSTs to ``path``."""
        return set().union(*(server.workers_that_served(path) for server in self.servers))

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def gunicorn(tmp_path: Path, foyer_app: t.Any) -> t.Iterator[t.Callable[..., Workers]]:
    """Start two gunicorn workers on the test's database (and Redis, when the test app uses
    it): ``gunicorn(FOYER_RATE_LIMIT_LOGIN="5 per minute")``."""
    settings = foyer_app.extensions["foyer.settings"]
    started: list[Workers] = []

    def start_one(workdir: Path, env: dict[str, str]) -> Gunicorn:
        return Gunicorn(
            workdir,
            {
                "FOYER_INSTANCE_PATH": settings.instance_path,
                "FOYER_DATABASE_URL": settings.database_url,
                "FOYER_REDIS_URL": settings.redis_url,
                "FOYER_SECRET_KEY": settings.secret_key,
                "FOYER_ENCRYPTION_KEYS": settings.encryption_keys,
                "FOYER_PLUGINS_DIR": settings.plugins_dir,
                "FOYER_SECURE_COOKIES": "false",
                "FOYER_TRUSTED_PROXIES": "1",
                "FOYER_ARGON2_TIME_COST": "1",
                "FOYER_ARGON2_MEMORY_COST": "8",
                **env,
            },
        )

    def start(**env: str) -> Workers:
        workers = Workers([])
        started.append(workers)
        for number in (1, 2):
            workers.servers.append(start_one(tmp_path / f"worker-{number}", env))
        workers.base_urls = [server.base_url for server in workers.servers]
        return workers

    yield start
    for server in started:
        server.stop()


class HttpBrowser:
    """A browser of one source address (X-Forwarded-For, FOYER_TRUSTED_PROXIES=1) talking
    to real servers over HTTP, with its own cookies; given several servers, each request
    goes to the next one, as behind a round-robin load balancer."""

    def __init__(self, base_urls: list[str], ip: str, host: str = "login.test") -> None:
        import requests

        self.servers = itertools.cycle(base_urls)
        self.session = requests.Session()
        self.session.headers.update({"Host": host, "X-Forwarded-For": ip})

    def url(self, target: str) -> str:
        parts = urllib.parse.urlsplit(target)
        return urllib.parse.urljoin(
            next(self.servers), parts.path + ("?" + parts.query if parts.query else "")
        )

    def get(self, target: str) -> t.Any:
        response = self.session.get(self.url(target), allow_redirects=False, timeout=30)
        while response.status_code in (302, 303):
            response = self.session.get(
                self.url(response.headers["Location"]), allow_redirects=False, timeout=30
            )
        return response

    def submit(self, page: t.Any, form_id: str, **values: str) -> t.Any:
        form = read_form(page.text, form_id)
        return self.session.post(
            self.url(form.action), data={**form.fields, **values}, allow_redirects=False, timeout=30
        )

    def login(self, email: str, password: str) -> t.Any:
        """The hosted pages, as :func:`app.testing.login` goes through them."""
        page = self.get("/login")
        if page.status_code != 200:
            return page
        step = self.submit(page, "login-identifier-form", identifier=email)
        if step.status_code != 303:
            return step
        page = self.get(step.headers["Location"])
        if page.status_code != 200:
            return page
        return self.submit(page, "login-password-form", password=password)


# the account pages' fixture: emails sent by background work
mails = mails  # noqa: PLW0127
