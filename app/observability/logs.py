"""Log lines: JSON objects for collectors, or plain text for a person, with the request id.

:func:`configure_logging` installs one handler on the root logger, so every logger (Foyer's,
gunicorn's error log, libraries') writes the same format to standard error. Inside a
request each line carries the request's id (``X-Request-ID``, or one made up), the id the
error pages show as their reference. Fields passed as ``extra={"fields": {...}}`` become
keys of the JSON object (``key=value`` pairs in text).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
import traceback
import typing as t

from flask import g
from flask import has_request_context
from flask import request

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
"""What a caller's ``X-Request-ID`` may hold to be kept (a proxy's or a load balancer's id);
anything else is replaced, so the id is safe in a log line and on a page."""

HANDLER_NAME = "foyer"


def new_request_id() -> str:
    """128 random bits in hex (a UUID's 32 digits, without building a UUID)."""
    return os.urandom(16).hex()


def request_id_of(environ: t.Mapping[str, t.Any]) -> str:
    """The caller's ``X-Request-ID`` when it is safe to keep, else a new id."""
    given = environ.get("HTTP_X_REQUEST_ID", "")
    return t.cast(str, given) if REQUEST_ID.fullmatch(given) else new_request_id()


def request_id() -> str | None:
    """The current request's id (set when the request starts), or None outside one."""
    if not has_request_context():
        return None
    rid = g.get("request_id")
    if rid is None:
        rid = g.request_id = request_id_of(request.environ)
    return t.cast(str, rid)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record made inside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            try:
                record.request_id = request_id()
            except Exception:  # noqa: BLE001 - a log line must never fail for its context
                record.request_id = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts``, ``level``, ``logger``, ``message``, ``pid``, ``request_id``,
    the record's ``fields``, and ``exception`` (the traceback, as one string) when any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, t.Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        rid = getattr(record, "request_id", None)
        if rid:
            line["request_id"] = rid
        line.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``HH:MM:SS level logger: message key=value ... [request id]``, for a person."""

    SHOWN_IN_MESSAGE = frozenset({"kind", "method", "route", "status", "endpoint"})
    EVENT_HEADER = frozenset({"id", "type", "created_at"})

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        parts = [f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"]
        fields = dict(getattr(record, "fields", None) or {})
        if "duration_ms" in fields:
            parts.append(f"{fields.pop('duration_ms')}ms")
        event = fields.pop("event", None)
        if isinstance(event, dict):  # an event's own fields, not one blob
            fields.update({k: v for k, v in event.items() if k not in self.EVENT_HEADER})
        for key, value in fields.items():
            if key not in self.SHOWN_IN_MESSAGE and value not in (None, "", {}, []):
                shown = json.dumps(value, default=str) if isinstance(value, dict) else value
                parts.append(f"{key}={shown}")
        rid = getattr(record, "request_id", None)
        if rid:
            parts.append(f"[{rid}]")
        text = " ".join(str(p) for p in parts)
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return text


NOISY_AT_INFO = ("alembic.runtime.plugins", "xmlschema")


def configure_logging(
    level: str = "INFO", fmt: str = "json", stream: t.TextIO | None = None
) -> None:
    """Send every logger's lines to ``stream`` (standard error) in ``fmt`` from ``level`` up.

    Idempotent: a second call replaces Foyer's handler rather than adding one.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # a refused CSRF token is an expected client error: the request's line and its
    # error_shown event say it; Flask-WTF's own INFO line would be a third
    logging.getLogger("flask_wtf.csrf").setLevel(logging.WARNING)
    # libraries' start-up chatter at INFO (Alembic's plugin list, xmlschema loading the
    # SAML schemas) tells an operator nothing; their warnings still come through
    for chatty in NOISY_AT_INFO:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
