"""Secrets never reach a log line, whatever level an operator turns logging to.

Libraries log what they handle at DEBUG: authlib logs every token response it issues
("Issue token {'access_token': ...}"). :class:`RedactSecrets` replaces the values of secret
keys in a record's arguments before any handler formats it; it is attached to every logger
of authlib (:data:`FILTERS`). SQLAlchemy logs statements at INFO
without their parameters (``hide_parameters``, :class:`app.db.Database`), and at DEBUG the
rows it reads, which hold session ids and password hashes: :class:`HideRows` keeps the
line and drops the row. Foyer's own code logs no secret.
"""

from __future__ import annotations

import logging
import typing as t

SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "logout_token",
        "code",
        "code_verifier",
        "client_secret",
        "client_assertion",
        "assertion",
        "device_code",
        "password",
        "token",
    }
)
REDACTED = "[redacted]"


def redact(value: t.Any, depth: int = 0) -> t.Any:
    """``value`` with the values of :data:`SECRET_KEYS` replaced, in mappings at any depth."""
    if depth > 8:
        return value
    if isinstance(value, t.Mapping):
        return {
            key: REDACTED if key in SECRET_KEYS else redact(item, depth + 1)
            for key, item in value.items()
        }
    if type(value) in (list, tuple):  # not a named tuple: its fields are its own
        return type(value)(redact(item, depth + 1) for item in value)
    return value


class RedactSecrets(logging.Filter):
    """Redact a record's arguments (a mapping, or mappings among the positional ones)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = redact(record.args)
        return True


class HideRows(logging.Filter):
    """SQLAlchemy's DEBUG line for each row read (``Row %r``): the line stays, the values
    go."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Row"):
            record.args = (REDACTED,)
        return True


FILTERS = {"authlib": RedactSecrets(), "sqlalchemy.engine": HideRows()}
"""The filter of each logger name prefix."""


def init_log_redaction() -> None:
    """Attach :data:`FILTERS` to the loggers they are for (created when their modules were
    imported, as they are by the time the app is built). Idempotent."""
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        for prefix, found in FILTERS.items():
            if name.startswith(prefix) and found not in logger.filters:
                logger.addFilter(found)
