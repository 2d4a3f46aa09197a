"""Builtin ``track_event`` sink: one structured (JSON) log line per event."""

from __future__ import annotations

import json
import logging

from app.events.types import EventRecord
from app.hookspecs import hookimpl

log = logging.getLogger("foyer.events")


@hookimpl(trylast=True)
def track_event(event: EventRecord) -> None:
    if log.isEnabledFor(logging.INFO):  # the copy and the JSON are costly; skip when unused
        log.info(json.dumps(event.as_dict(), sort_keys=True, default=str))
