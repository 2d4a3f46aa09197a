"""The registry of connection strategies, built once from ``register_connection_strategies``."""

from __future__ import annotations

import typing as t

from flask import Flask
from flask import current_app

from app.strategies.base import ConnectionStrategy

if t.TYPE_CHECKING:
    from app.connections.models import Connection


def build_registry(app: Flask) -> dict[str, type[ConnectionStrategy]]:
    registry: dict[str, type[ConnectionStrategy]] = {}
    pm = app.extensions["foyer.pm"]
    for batch in pm.hook.register_connection_strategies():
        for cls in batch:
            if cls.name in registry and registry[cls.name] is not cls:
                raise RuntimeError(f"two plugins register connection strategy {cls.name!r}")
            registry[cls.name] = cls
    return registry


def strategy_names() -> list[str]:
    return sorted(current_app.extensions["foyer.strategies"])


def strategy_for(connection: Connection) -> ConnectionStrategy:
    """Instantiate the strategy serving a connection; LookupError when none is registered."""
    registry = current_app.extensions["foyer.strategies"]
    try:
        cls = registry[connection.strategy]
    except KeyError:
        raise LookupError(f"no connection strategy named {connection.strategy!r}") from None
    return t.cast(ConnectionStrategy, cls(connection))
