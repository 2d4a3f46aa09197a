"""Log streams: a JSON Lines file, a signed webhook and syslog, each checked by a real
receiver on loopback; a slow or dead destination never slows a sign-in."""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading
import time
import typing as t

import pytest

from app.events import streams
from app.events.record import record_event
from app.events.streams import StreamSettings
from app.events.streams import signature
from app.events.streams import stream_stats
from app.events.streams import streams_of
from app.hooks import validate_plugin_settings
from app.testing import USER_PASSWORD
from app.testing import login

SECRET = "a-webhook-secret-of-some-length"
RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>\[(?:[^\]\\]|\\.)*\]) \ufeff(?P<msg>.*)$",
    re.S,
)


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver on a free loopback port: answers from ``answers`` in turn (then
    200), after ``delay`` seconds; keeps every body whose signature is right."""

    def __init__(self, answers: t.Sequence[int] = (), delay: float = 0.0) -> None:
        self.answers = list(answers)
        self.delay = delay
        self.batches: list[list[dict[str, t.Any]]] = []
        self.bad_signatures = 0
        self.requests = 0
        self.arrived = threading.Event()
        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/foyer-events"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests += 1
        time.sleep(self.server.delay)
        expected = signature(SECRET, self.headers["X-Foyer-Timestamp"], body)
        status = self.server.answers.pop(0) if self.server.answers else 200
        if self.headers["X-Foyer-Signature"] != expected:
            self.server.bad_signatures += 1
        elif status == 200:
            self.server.batches.append(json.loads(body))
            self.server.arrived.set()
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: t.Any) -> None:
        pass


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "RETRY_BASE", 0.01)


@pytest.fixture
def use_streams(foyer_app) -> t.Iterator[t.Callable[..., None]]:
    """Set the deployment's streams for one test."""
    settings = foyer_app.extensions["foyer.settings"]
    saved = dict(vars(settings))

    def configure(**values: t.Any) -> None:
        for name, value in values.items():
            setattr(settings, f"event_stream_{name}", value)

    yield configure
    vars(settings).update(saved)


def drain(foyer_app) -> None:
    for sink in streams_of(foyer_app).sinks.values():
        assert sink.idle(15)


def test_every_event_is_appended_to_the_file_as_json(foyer_app, tenant, use_streams, tmp_path):
    path = tmp_path / "events.jsonl"
    use_streams(file=str(path))
    first = record_event("login_failed", tenant=tenant, data={"reason": "password"})
    second = record_event("keys_rotated", tenant=tenant)
    drain(foyer_app)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["id"], e["type"]) for e in lines] == [
        (first.id, "login_failed"),
        (second.id, "keys_rotated"),
    ]
    assert lines[0]["data"] == {"reason": "password"} and lines[0]["tenant_id"] == tenant.id


def test_webhook_batches_are_signed_and_retried_until_taken(
    foyer_app, tenant, use_streams, quick_backoff
):
    receiver = Receiver(answers=(503, 500))
    try:
        use_streams(webhook=receiver.url, secret=SECRET)
        event = record_event("login_succeeded", tenant=tenant, user_id="u1")
        assert receiver.arrived.wait(10)
        drain(foyer_app)
    finally:
        receiver.close()
    assert receiver.requests == 3 and receiver.bad_signatures == 0
    (batch,) = receiver.batches
    assert [e["id"] for e in batch] == [event.id] and batch[0]["user_id"] == "u1"
    (stats,) = stream_stats(foyer_app)
    assert (stats["sent"], stats["failed"], stats["dropped"]) == (1, 0, 0)


def test_a_webhook_still_failing_after_the_last_attempt_is_dead_lettered(
    foyer_app, tenant, use_streams, quick_backoff
):
    receiver = Receiver(answers=[500] * 10)
    try:
        use_streams(webhook=receiver.url, secret=SECRET, attempts=3)
        event = record_event("login_failed", tenant=tenant)
        drain(foyer_app)
    finally:
        receiver.close()
    assert receiver.requests == 3 and not receiver.batches
    dead = foyer_app.extensions["foyer.settings"].instance / "event-dead-letter.jsonl"
    (line,) = [json.loads(x) for x in dead.read_text().splitlines()]
    assert line["event"]["id"] == event.id and line["stream"] == f"webhook:{receiver.url}"
    (stats,) = stream_stats(foyer_app)
    assert (stats["failed"], stats["dead_lettered"]) == (1, 1)


def test_a_refused_webhook_batch_is_not_retried(foyer_app, tenant, use_streams, quick_backoff):
    receiver = Receiver(answers=(401,))
    try:
        use_streams(webhook=receiver.url, secret=SECRET)
        record_event("login_failed", tenant=tenant)
        drain(foyer_app)
    finally:
        receiver.close()
    assert receiver.requests == 1
    assert stream_stats(foyer_app)[0]["dead_lettered"] == 1


def udp_listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    return sock


def test_syslog_over_udp_is_rfc5424(foyer_app, tenant, use_streams):
    with udp_listener() as sock:
        use_streams(syslog=f"udp://127.0.0.1:{sock.getsockname()[1]}")
        event = record_event("login_failed", tenant=tenant, user_id='we"ird]', client_id="app1")
        data, _ = sock.recvfrom(65535)
    match = RFC5424.match(data.decode())
    assert match, data
    assert match["pri"] == str(10 * 8 + 4)  # authpriv, warning
    assert (match["app"], match["msgid"]) == ("foyer", "login_failed")
    assert f'id="{event.id}"' in match["sd"] and 'user="we\\"ird\\]"' in match["sd"]
    assert match["sd"].startswith("[foyer@32473 ")
    assert json.loads(match["msg"])["id"] == event.id
    assert match["ts"].endswith("Z")


def test_syslog_over_tcp_uses_octet_counting(foyer_app, tenant, use_streams):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(10)
        use_streams(syslog=f"tcp://127.0.0.1:{server.getsockname()[1]}")
        ids = [record_event("keys_rotated", tenant=tenant).id for _ in range(3)]
        conn, _ = server.accept()
        with conn:
            conn.settimeout(10)
            data = b""
            messages: list[bytes] = []
            while len(messages) < 3:
                data += conn.recv(65535)
                while b" " in data:
                    length, rest = data.split(b" ", 1)
                    if len(rest) < int(length):
                        break
                    messages.append(rest[: int(length)])
                    data = rest[int(length) :]
    parsed = [RFC5424.match(m.decode()) for m in messages]
    assert all(parsed)
    assert [json.loads(p["msg"])["id"] for p in parsed] == ids  # type: ignore[index]
    assert {p["pri"] for p in parsed} == {str(10 * 8 + 6)}  # type: ignore[index]


def test_a_slow_webhook_never_slows_a_sign_in_and_drops_are_counted(
    foyer_app, tenant, user, client, use_streams
):
    receiver = Receiver(delay=3.0)
    try:
        use_streams(webhook=receiver.url, secret=SECRET, queue=5)
        started = time.monotonic()
        for _ in range(40):
            record_event("login_failed", tenant=tenant)
        assert login(client, user.email, USER_PASSWORD).status_code == 303
        elapsed = time.monotonic() - started
        (stats,) = stream_stats(foyer_app)
    finally:
        receiver.close()
    assert elapsed < 2.5  # one webhook POST alone takes 3 s
    assert stats["dropped"] >= 30


def test_a_tenant_enables_its_own_streams(foyer_app, tenant, enable_plugin):
    with udp_listener() as sock:
        enable_plugin("log_streams", {"syslog": f"udp://127.0.0.1:{sock.getsockname()[1]}"})
        record_event("counter_storage_failed", data={"backend": "redis"})  # no tenant: not sent
        mine = record_event("keys_rotated", tenant=tenant)
        data, _ = sock.recvfrom(65535)
        match = RFC5424.match(data.decode())
        assert match and json.loads(match["msg"])["id"] == mine.id
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recvfrom(65535)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"webhook": "http://siem.example.com/in", "secret": SECRET}, "https"),
        ({"webhook": "https://siem.example.com/in", "secret": "short"}, "secret"),
        ({"syslog": "syslog.example.com:514"}, "udp://"),
        ({"file": "relative/events.jsonl"}, "absolute"),
        ({"sink": "x"}, "unknown setting"),
    ],
)
def test_wrong_stream_settings_are_refused_with_a_reason(foyer_app, settings, problem):
    errors = validate_plugin_settings("log_streams", settings)
    assert errors and problem in errors[0]


def test_a_wrong_deployment_stream_fails_the_start(foyer_config):
    from app import create_app

    with pytest.raises(ValueError, match="https"):
        create_app({**foyer_config, "event_stream_webhook": "http://siem.example.com/"})


def test_settings_accept_loopback_http_and_https():
    StreamSettings(webhook="http://127.0.0.1:9/x", secret=SECRET)
    StreamSettings(webhook="https://siem.example.com/x", secret=SECRET, syslog="tcp://h:601")
