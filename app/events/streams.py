"""Log streams: every event, as it is recorded, to a JSON Lines file, an https webhook
(HMAC-signed batches) or a syslog server (RFC 5424), through ``track_event``.

A deployment sets its streams with ``FOYER_EVENT_STREAM_*`` (every tenant's events); a
tenant or organization enables the scoped plugin ``log_streams`` in its configuration file
for its own events. Each stream is a bounded queue and a thread of its own: ``track_event``
only puts the event in the queue, so a slow or dead destination never slows a sign-in. A
full queue drops the event and counts it (:func:`stream_stats`). Webhook batches are retried
with exponential backoff; after the last attempt they go to the dead-letter file
``instance/event-dead-letter.jsonl``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import queue
import socket
import threading
import time
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from flask import current_app

from app.events.types import EventRecord
from app.hooks import plugin_settings
from app.hookspecs import hookimpl

log = logging.getLogger(__name__)

EXTENSION = "foyer.event_streams"
BATCH = 100
"""Events sent in one webhook POST or written in one file append, at most."""
RETRY_BASE = 1.0
"""Seconds before the second webhook attempt; it doubles with each further one."""
TIMEOUT = (3.0, 10.0)
SD_ID = "foyer@32473"
"""The structured-data id of syslog messages (32473: the enterprise number RFC 5612
reserves for examples; rename it in your collector's rules if you need)."""
FACILITY_AUTHPRIV = 10
WARNING_WORDS = ("failed", "blocked", "rejected", "reused", "denied", "throttled", "limited")


# --- configuration -------------------------------------------------------------------------


def _check_webhook(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return  # a collector on the same host
    raise ValueError(f"webhook must be an https:// URL (http:// only on loopback), not {url!r}")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_syslog(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("udp", "tcp") or not parts.hostname or not parts.port:
        raise ValueError(f"syslog must be udp://host:port or tcp://host:port, not {url!r}")
    return parts.scheme, parts.hostname, parts.port


@dataclasses.dataclass(frozen=True)
class StreamSettings:
    """Where one tenant's (or organization's) events go; every destination is optional."""

    file: str = ""
    """Absolute path of a JSON Lines file events are appended to."""
    webhook: str = ""
    """https URL batches of events are POSTed to."""
    secret: str = ""
    """HMAC-SHA256 key of the webhook's ``X-Foyer-Signature`` (at least 16 characters)."""
    syslog: str = ""
    """``udp://host:port`` or ``tcp://host:port`` of a syslog server (RFC 5424)."""

    def __post_init__(self) -> None:
        if self.file and not os.path.isabs(self.file):
            raise ValueError("file must be an absolute path")
        if self.webhook:
            _check_webhook(self.webhook)
            if len(self.secret) < 16:
                raise ValueError("a webhook needs a secret of at least 16 characters")
        if self.syslog:
            _check_syslog(self.syslog)


# --- sinks ---------------------------------------------------------------------------------


class Sink:
    """One destination: a bounded queue, a thread that empties it, and counters."""

    kind = ""

    def __init__(self, target: str, capacity: int, app: Flask) -> None:
        self.target = target
        self.queue: queue.Queue[EventRecord | None] = queue.Queue(maxsize=max(1, capacity))
        self.dead_letter = Path(app.extensions["foyer.settings"].instance) / (
            "event-dead-letter.jsonl"
        )
        self.counts = {"sent": 0, "dropped": 0, "failed": 0, "dead_lettered": 0}
        self.lock = threading.Lock()
        self.busy = False
        self.thread = threading.Thread(
            target=self._run, name=f"foyer-stream-{self.kind}", daemon=True
        )
        self.thread.start()

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.target}"

    def offer(self, event: EventRecord) -> None:
        """Queue the event, never waiting: a full queue drops it (counted)."""
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            self._count("dropped")

    def _count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:  # stop
                return
            batch = [first]
            while len(batch) < BATCH:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.queue.put(None)  # stop after this batch
                    break
                batch.append(more)
            self.busy = True
            try:
                self.send(batch)
                self._count("sent", len(batch))
            except Exception as exc:
                log.warning("log stream %s failed: %s", self.name, type(exc).__name__)
                self._count("failed", len(batch))
                self._bury(batch, exc)
            finally:
                self.busy = False
                for _ in batch:
                    self.queue.task_done()

    def send(self, batch: list[EventRecord]) -> None:
        raise NotImplementedError

    def _bury(self, batch: list[EventRecord], error: BaseException) -> None:
        """Keep what could not be delivered in the dead-letter file."""
        lines = "".join(
            json.dumps(
                {"stream": self.name, "error": type(error).__name__, "event": e.as_dict()},
                sort_keys=True,
                default=str,
            )
            + "\n"
            for e in batch
        )
        try:
            with open(self.dead_letter, "a", encoding="utf-8") as fh:
                fh.write(lines)
            self._count("dead_lettered", len(batch))
        except OSError:
            log.exception("could not write the dead-letter file %s", self.dead_letter)

    def idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was handled (tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is queued, then end the thread."""
        try:
            self.queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self.thread.join(timeout)

    def stats(self) -> dict[str, t.Any]:
        with self.lock:
            return {"stream": self.name, "queued": self.queue.qsize(), **self.counts}


def json_line(event: EventRecord) -> str:
    return json.dumps(event.as_dict(), sort_keys=True, default=str, ensure_ascii=False)


class FileSink(Sink):
    """Appends JSON lines; one write per batch, so processes sharing the file never
    interleave inside a line."""

    kind = "file"

    def send(self, batch: list[EventRecord]) -> None:
        data = "".join(json_line(e) + "\n" for e in batch).encode()
        fd = os.open(self.target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``X-Foyer-Signature``: HMAC-SHA256 of ``timestamp.body`` with the stream's secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Undeliverable(Exception):
    """The receiver refused the batch (a 4xx answer): retrying would not help."""


class WebhookSink(Sink):
    """POSTs each batch as a JSON array, signed; retries with backoff, then dead-letters."""

    kind = "webhook"

    def __init__(self, target: str, capacity: int, app: Flask, secret: str, attempts: int):
        self.secret = secret
        self.attempts = max(1, attempts)
        import requests  # memory: 5 MiB, only in a worker that has a webhook stream

        self.http = requests.Session()
        super().__init__(target, capacity, app)

    def send(self, batch: list[EventRecord]) -> None:
        import requests  # loaded already: the sink's session needed it

        body = json.dumps([e.as_dict() for e in batch], sort_keys=True, default=str).encode()
        for attempt in range(1, self.attempts + 1):
            timestamp = str(int(time.time()))
            try:
                answer = self.http.post(
                    self.target,
                    data=body,
                    timeout=TIMEOUT,
                    allow_redirects=False,
                    headers={
                        "Content-Type": "application/json",
                        "User-Agent": "Foyer-Log-Stream",
                        "X-Foyer-Timestamp": timestamp,
                        "X-Foyer-Signature": signature(self.secret, timestamp, body),
                    },
                )
                answer.close()
            except requests.RequestException as exc:
                error: Exception = exc
            else:
                if 200 <= answer.status_code < 300:
                    return
                error = RuntimeError(f"HTTP {answer.status_code}")
                if 400 <= answer.status_code < 500 and answer.status_code not in (408, 429):
                    raise Undeliverable(f"HTTP {answer.status_code}")
            if attempt < self.attempts:
                time.sleep(RETRY_BASE * 2 ** (attempt - 1))
        raise error


def syslog_message(event: EventRecord, hostname: str, pid: int) -> bytes:
    """One RFC 5424 message: the event's fields as structured data, the event as JSON."""
    severity = 4 if any(w in event.type for w in WARNING_WORDS) else 6
    stamp = event.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    params = [
        ("id", event.id),
        ("tenant", event.tenant_id),
        ("organization", event.organization_id),
        ("user", event.user_id),
        ("client", event.client_id),
        ("ip", event.ip),
    ]
    sd = "".join(f' {k}="{_sd_escape(v)}"' for k, v in params if v)
    header = (
        f"<{FACILITY_AUTHPRIV * 8 + severity}>1 {stamp} {_token(hostname, 255)} foyer "
        f"{pid} {_token(event.type, 32)} [{SD_ID}{sd}] "
    )
    return header.encode() + b"\xef\xbb\xbf" + json_line(event).encode()


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _token(value: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, or ``-``."""
    cleaned = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return cleaned or "-"


class SyslogSink(Sink):
    """Sends RFC 5424 messages over UDP (one datagram each) or TCP (octet counting,
    RFC 6587), reconnecting once when a TCP connection broke."""

    kind = "syslog"

    def __init__(self, target: str, capacity: int, app: Flask) -> None:
        self.transport, self.host, self.port = _check_syslog(target)
        self.hostname = socket.gethostname()
        self.sock: socket.socket | None = None
        super().__init__(target, capacity, app)

    def send(self, batch: list[EventRecord]) -> None:
        messages = [syslog_message(e, self.hostname, os.getpid()) for e in batch]
        if self.transport == "udp":
            with socket.socket(_family(self.host), socket.SOCK_DGRAM) as sock:
                for message in messages:
                    sock.sendto(message, (self.host, self.port))
            return
        frames = b"".join(str(len(m)).encode() + b" " + m for m in messages)
        for attempt in (1, 2):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection((self.host, self.port), timeout=5)
                self.sock.sendall(frames)
                return
            except OSError:
                if self.sock is not None:
                    self.sock.close()
                    self.sock = None
                if attempt == 2:
                    raise


def _family(host: str) -> socket.AddressFamily:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return socket.AF_INET


# --- the streams of an app -----------------------------------------------------------------


class Streams:
    """The app's sinks, made on first use for each destination and kept for its life."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.sinks: dict[tuple[str, ...], Sink] = {}
        self.lock = threading.Lock()

    def for_settings(self, config: StreamSettings) -> list[Sink]:
        settings = self.app.extensions["foyer.settings"]
        wanted: list[tuple[str, ...]] = []
        if config.file:
            wanted.append(("file", config.file))
        if config.webhook:
            wanted.append(("webhook", config.webhook, config.secret))
        if config.syslog:
            wanted.append(("syslog", config.syslog))
        found = []
        for key in wanted:
            sink = self.sinks.get(key)
            if sink is None:
                with self.lock:
                    sink = self.sinks.get(key)
                    if sink is None:
                        sink = self._make(key, settings)
                        self.sinks[key] = sink
            found.append(sink)
        return found

    def _make(self, key: tuple[str, ...], settings: t.Any) -> Sink:
        capacity = int(settings.event_stream_queue)
        if key[0] == "file":
            return FileSink(key[1], capacity, self.app)
        if key[0] == "webhook":
            return WebhookSink(
                key[1], capacity, self.app, key[2], int(settings.event_stream_attempts)
            )
        return SyslogSink(key[1], capacity, self.app)


def streams_of(app: Flask) -> Streams:
    found = app.extensions.get(EXTENSION)
    if found is None:
        found = app.extensions[EXTENSION] = Streams(app)
    return t.cast(Streams, found)


def deployment_settings(app: Flask) -> StreamSettings | None:
    """The streams of ``FOYER_EVENT_STREAM_*`` (checked once, at the first event)."""
    settings = app.extensions["foyer.settings"]
    if not (
        settings.event_stream_file or settings.event_stream_webhook or settings.event_stream_syslog
    ):
        return None
    return StreamSettings(
        file=settings.event_stream_file,
        webhook=settings.event_stream_webhook,
        secret=settings.event_stream_secret,
        syslog=settings.event_stream_syslog,
    )


def shutdown_streams(app: Flask) -> None:
    """Send what the streams hold and end their threads (tests, before their app goes)."""
    found = app.extensions.pop(EXTENSION, None)
    if found is not None:
        for sink in list(t.cast(Streams, found).sinks.values()):
            sink.stop()


def stream_stats(app: Flask) -> list[dict[str, t.Any]]:
    """Per stream: events queued now, and sent, dropped (queue full), failed and
    dead-lettered since the process started (for metrics and ``foyer events streams``)."""
    found = app.extensions.get(EXTENSION)
    if found is None:
        return []
    return [sink.stats() for sink in list(t.cast(Streams, found).sinks.values())]


@hookimpl
def track_event(event: EventRecord) -> None:
    """The deployment's streams: every tenant's events."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = deployment_settings(app)
    if config is not None:
        for sink in streams_of(app).for_settings(config):
            sink.offer(event)


class TenantStreams:
    """The scoped plugin ``log_streams``: a tenant's (or organization's) own streams, set
    under ``plugins: {log_streams: {...}}`` in its configuration file."""

    FOYER_SCOPED = True
    FOYER_SETTINGS = StreamSettings

    @hookimpl
    def track_event(self, event: EventRecord) -> None:
        config = t.cast(StreamSettings, plugin_settings())
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        for sink in streams_of(app).for_settings(config):
            sink.offer(event)


TENANT_STREAMS = TenantStreams()
"""Registered as the builtin plugin ``log_streams``."""
