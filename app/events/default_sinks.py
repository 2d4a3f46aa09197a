"""Builtin ``track_event`` sink: one structured log line per event (logger ``foyer.events``).

With ``FOYER_LOG_FORMAT=json`` the line is a JSON object whose ``event`` key holds the whole
event; inside a request it also carries the request's id.
"""

from __future__ import annotations

import logging

from app.events.types import EventRecord
from app.hookspecs import hookimpl

log = logging.getLogger("foyer.events")


@hookimpl(trylast=True)
def track_event(event: EventRecord) -> None:
    if log.isEnabledFor(logging.INFO):  # the copy is costly; skip when unused
        log.info(
            "event %s", event.type, extra={"fields": {"kind": "event", "event": event.as_dict()}}
        )
