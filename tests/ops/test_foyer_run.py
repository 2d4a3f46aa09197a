"""``foyer run`` for real, behind granian and behind gunicorn, two workers each: probes,
metrics of both workers added up on the internal listener (parsed with the Prometheus
client's parser), one JSON log line per request and per event, no secret in the whole log of
a sign-in; and granian's master doing what gunicorn's hooks do (a crashed worker restarted
and its gauges dropped, a graceful reload and stop, the metrics folder removed)."""

from __future__ import annotations

import base64
import importlib.util
import os
import secrets
import signal
import socket
import time
import typing as t
import urllib.parse
from pathlib import Path

import pytest
import requests

from app.testing import CLIENT_REDIRECT_URI
from app.testing import TENANT_HOST
from app.testing import USER_PASSWORD
from app.testing import pkce_pair
from app.testing import read_form
from tests.ops.conftest import FoyerRun


def sign_in(server: FoyerRun, client_id: str, secret: str, email: str) -> dict[str, t.Any]:
    """The authorization code flow through the hosted pages, over HTTP."""
    browser = requests.Session()
    browser.headers.update({"Host": TENANT_HOST, "X-Forwarded-Proto": "https"})

    def url(target: str) -> str:
        parts = urllib.parse.urlsplit(target)
        return server.base + parts.path + ("?" + parts.query if parts.query else "")

    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CLIENT_REDIRECT_URI,
        "scope": "openid email",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    answer = browser.get(url("/authorize?" + urllib.parse.urlencode(query)), allow_redirects=False)
    assert answer.status_code in (302, 303), answer.text[:2000]
    page = browser.get(url(answer.headers["Location"]))
    form = read_form(page.text, "login-identifier-form")
    step = browser.post(
        url(form.action), data={**form.fields, "identifier": email}, allow_redirects=False
    )
    page = browser.get(url(step.headers["Location"]))
    form = read_form(page.text, "login-password-form")
    step = browser.post(
        url(form.action), data={**form.fields, "password": USER_PASSWORD}, allow_redirects=False
    )
    assert step.status_code == 303, step.text[:500]
    location = step.headers["Location"]  # the password form answers with the code
    assert location.startswith(CLIENT_REDIRECT_URI), location
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["code"]
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    tokens = browser.post(
        url("/oauth/token"),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CLIENT_REDIRECT_URI,
            "code_verifier": verifier,
        },
        headers={"Authorization": f"Basic {basic}"},
    ).json()
    info = browser.get(
        url("/userinfo"), headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status_code == 200
    return {"tokens": tokens, "code": code, "verifier": verifier, "csrf": form.fields}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


needs_granian = pytest.mark.skipif(
    importlib.util.find_spec("granian") is None, reason="granian is not installed"
)
SERVERS = [pytest.param("granian", marks=needs_granian), "gunicorn"]


@pytest.mark.parametrize("server_name", SERVERS)
def test_foyer_run_probes_metrics_and_logs(foyer_run, user, oidc_client, tenant, server_name):
    app_client, secret = oidc_client
    server = foyer_run(FOYER_SERVER=server_name)
    host = {"Host": TENANT_HOST, "X-Forwarded-Proto": "https"}

    ready = requests.get(f"{server.base}/health/ready", timeout=5)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["migrations"] == "current"

    before = server.scrape()
    for _ in range(30):
        assert requests.get(f"{server.base}/health/live", timeout=5).status_code == 200
    flow = sign_in(server, app_client.client_id, secret, user.email)

    # a client with a wrong secret: one event line and one request line, no traceback
    wrong = base64.b64encode(f"{app_client.client_id}:not-the-secret".encode()).decode()
    refused = requests.post(
        f"{server.base}/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={**host, "Authorization": f"Basic {wrong}", "X-Request-ID": "client-auth-1"},
    )
    assert refused.status_code == 401
    missing = requests.get(f"{server.base}/wp-login.php", headers=host)
    assert missing.status_code == 404
    assert missing.headers["X-Request-ID"] in missing.text  # the page's reference

    samples = server.scrape()  # the internal listener adds up both workers
    live = {"endpoint": "health.live", "method": "GET", "status": "200"}
    assert value(samples, "foyer_http_requests_total", **live) == (
        value(before, "foyer_http_requests_total", **live) + 30
    )
    assert (
        value(
            samples, "foyer_sign_ins_total", result="success", tenant=tenant.name, organization="-"
        )
        == 1
    )
    assert (
        value(
            samples, "foyer_http_requests_total", endpoint="oidc.token", method="POST", status="401"
        )
        == 1
    )
    assert value(samples, "foyer_error_pages_total", code="not_found") == 1
    assert value(samples, "foyer_events_total", type="client_auth_failed") == 1
    assert value(samples, "foyer_http_request_duration_seconds_count", endpoint="oidc.token") == 2
    assert requests.get(f"{server.base}/metrics", headers=host).status_code == 404  # no token

    lines = server.log_lines()  # every line is JSON
    requests_logged = [line for line in lines if line.get("kind") == "request"]
    assert {line["pid"] for line in lines if line["logger"] == "foyer.access"}
    assert not [line for line in lines if "exception" in line or "Traceback" in line["message"]]
    auth = [line for line in lines if line.get("request_id") == "client-auth-1"]
    assert [line["logger"] for line in auth] == ["foyer.events", "foyer.access"], auth
    assert auth[0]["event"]["type"] == "client_auth_failed"
    assert auth[1]["status"] == 401 and auth[1]["client"] == app_client.client_id
    token_lines = [line for line in requests_logged if line["route"] == "/oauth/token"]
    assert token_lines and all(line["tenant"] == tenant.name for line in token_lines)
    signed_in = [line for line in lines if line.get("event", {}).get("type") == "login_succeeded"]
    assert len(signed_in) == 1 and signed_in[0]["request_id"]

    log_text = server.log_path.read_text()
    secrets_used = [
        USER_PASSWORD,
        secret,
        flow["code"],
        flow["verifier"],
        flow["tokens"]["access_token"],
        flow["tokens"]["id_token"],
        flow["csrf"]["csrf_token"],
    ]
    for secret_value in secrets_used:
        assert secret_value not in log_text
    assert "code_challenge" not in log_text  # no query string is logged, by Foyer or the server
    assert not [line for line in lines if line["logger"] in ("gunicorn.access", "granian.access")]
    master = "_granian" if server_name == "granian" else "gunicorn.error"
    assert [line for line in lines if line["logger"] == master]  # the server's own, as JSON


def wait_for(check: t.Callable[[], t.Any], what: str, seconds: float = 120) -> t.Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"still waiting for {what}")


def live_gauge_pids(folder: Path) -> set[int]:
    return {int(f.stem.rsplit("_", 1)[1]) for f in folder.glob("gauge_live*_*.db")}


@needs_granian
def test_granian_restarts_a_crashed_worker_and_drops_its_gauges(foyer_run, tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    server = foyer_run(FOYER_SERVER="granian", PROMETHEUS_MULTIPROC_DIR=str(folder))
    workers = wait_for(lambda: len(server.workers()) == 2 and server.workers(), "two workers")
    crashed = min(workers)
    wait_for(lambda: crashed in live_gauge_pids(folder), "the worker's gauge file")
    os.kill(crashed, signal.SIGKILL)

    wait_for(lambda: len(server.workers() - workers) == 1, "a new worker")
    wait_for(lambda: crashed not in live_gauge_pids(folder), "the dead worker's gauges dropped")
    assert workers - {crashed} <= server.workers()  # the other worker lives on
    # one socket for all workers: a connection waits for a worker, never refused
    assert requests.get(f"{server.base}/health/live", timeout=120).status_code == 200
    assert server.process.poll() is None


@needs_granian
def test_granian_reloads_on_hup_without_refusing_a_request_and_stops_cleanly(foyer_run):
    server = foyer_run(FOYER_SERVER="granian")
    environ = Path(f"/proc/{server.process.pid}/environ").read_bytes().split(b"\0")
    [folder] = [Path(v.split(b"=", 1)[1].decode()) for v in environ if v.startswith(b"PROMETHEUS")]
    workers = wait_for(lambda: len(server.workers()) == 2 and server.workers(), "two workers")

    os.kill(server.process.pid, signal.SIGHUP)  # workers replaced one after the other
    answers = []
    while server.workers() & workers or len(server.workers()) != 2:
        # a request waits for a new worker to boot (a minute on a busy machine), never refused
        answers.append(requests.get(f"{server.base}/health/live", timeout=120).status_code)
        assert len(answers) < 5000, "the old workers were not replaced"
        time.sleep(0.02)
    assert set(answers) == {200}

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0
    assert not folder.exists()  # the folder foyer run made
    assert server.log_lines()[-1]["logger"] == "_granian"  # every line JSON, to the last


@needs_granian
def test_granian_reload_serves_a_connection_whose_request_is_still_on_the_way(foyer_run, tmp_path):
    server = foyer_run.start(tmp_path / "run", workers=1, FOYER_SERVER="granian").wait_until_up()
    [old] = server.workers()
    # connected, the request not sent yet: no worker may take the connection before it is
    quiet = socket.create_connection(("127.0.0.1", server.port), timeout=120)
    os.kill(server.process.pid, signal.SIGHUP)  # the old worker stops 3.5 s after the new starts
    wait_for(lambda: old not in server.workers(), "the old worker gone")
    quiet.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    with quiet, quiet.makefile("rb") as answer:
        assert answer.readline().startswith(b"HTTP/1.1 200")


STUCK_PLUGIN = """
import time

import flask

from app.hookspecs import hookimpl

stuck = flask.Blueprint("stuck", __name__)


@stuck.get("/stuck/in-python")
def in_python():
    while True:  # interrupted at its next instruction
        pass


@stuck.get("/stuck/in-c")
def in_c():
    time.sleep(3600)  # returns to Python only when it is over
    return "slept"


@hookimpl
def register_blueprints():
    return [stuck]
"""


@needs_granian
def test_granian_interrupts_a_stuck_request_and_replaces_a_worker_stuck_in_c(foyer_run, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "stuck.py").write_text(STUCK_PLUGIN)
    server = foyer_run.start(
        tmp_path / "run",
        workers=1,
        FOYER_SERVER="granian",
        FOYER_PLUGINS_DIR=str(plugins),
        FOYER_REQUEST_TIMEOUT="2",
    ).wait_until_up()
    [worker] = server.workers()

    # Python code is interrupted: the request fails, its worker serves on
    started = time.monotonic()
    answer = requests.get(f"{server.base}/stuck/in-python", timeout=60)
    assert answer.status_code == 500
    assert 2 <= time.monotonic() - started < 5
    assert server.workers() == {worker}
    assert requests.get(f"{server.base}/health/live", timeout=5).status_code == 200

    # a request blocked in C: its worker exits a few seconds later and another serves
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.base}/stuck/in-c?code=not-for-the-log", timeout=60)
    assert requests.get(f"{server.base}/health/live", timeout=120).status_code == 200
    assert worker not in server.workers()
    assert server.process.poll() is None  # no crash loop: the master serves on

    lines = server.log_lines()
    stuck = [line["message"] for line in lines if line["message"].startswith("request GET")]
    assert len(stuck) == 3, stuck  # interrupted, interrupted, the worker exits
    assert stuck[0].startswith("request GET /stuck/in-python still running after 2.")
    assert stuck[1].startswith("request GET /stuck/in-c still running after 2.")
    assert "the worker exits to be replaced" in stuck[2]
    assert "not-for-the-log" not in server.log_path.read_text()
