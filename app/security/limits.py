"""Rate limits (Flask-Limiter): per client address, in Redis when FOYER_REDIS_URL is set.

The address is ``request.remote_addr``, which only trusted proxies (FOYER_TRUSTED_PROXIES)
may rewrite, so a spoofed X-Forwarded-For neither bypasses nor shifts a limit.
"""

from __future__ import annotations

import functools
import threading
import typing as t

from flask import Flask
from flask import current_app
from flask import request
from flask_limiter import Limiter
from limits import RateLimitItem
from limits import parse
from limits.storage import MemoryStorage
from werkzeug.exceptions import TooManyRequests

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

SWEEP_INTERVAL = 5.0
"""Seconds between two sweeps of expired entries in the in-process rate-limit storage."""


class SweepingMemoryStorage(MemoryStorage):
    """limits' in-process storage, sweeping expired entries every :data:`SWEEP_INTERVAL`.

    The stock storage sweeps every 10 ms from a background thread; with traffic from many
    client addresses one sweep visits thousands of keys (about 20 ms for 8,000), so each
    worker lost most of a core to it. Every limit is decided from the entries' own
    timestamps, so sweeping less often changes no answer, only how long spent entries stay
    in memory.
    """

    STORAGE_SCHEME = ["foyer-memory"]

    def _MemoryStorage__schedule_expiry(self) -> None:  # the stock storage's hook
        if not self.timer.is_alive():
            sweep = self._MemoryStorage__expire_events  # type: ignore[attr-defined]
            self.timer = threading.Timer(SWEEP_INTERVAL, sweep)
            self.timer.daemon = True  # never keeps a command or a test run from exiting
            self.timer.start()


def client_address() -> str:
    return request.remote_addr or "unknown"


def init_limiter(app: Flask) -> None:
    settings = app.extensions["foyer.settings"]
    storage = settings.redis_url or "foyer-memory://"
    limiter = Limiter(
        key_func=client_address,
        storage_uri=storage,
        strategy="moving-window",
        headers_enabled=True,
        key_prefix=f"foyer:{settings.instance_path}:",
    )
    limiter.init_app(app)
    # Every limit is declared on its view or checked inside it; none covers the whole app or
    # a blueprint, so the check Flask-Limiter runs before every request only costs time.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.extensions["foyer.limiter"] = limiter


def limiter() -> Limiter:
    return t.cast(Limiter, current_app.extensions["foyer.limiter"])


def limit(setting: str) -> t.Callable[[], str]:
    """A limit string read from settings at request time (``limit("rate_limit_login")``)."""
    return lambda: getattr(current_app.extensions["foyer.settings"], setting)


def count_submission(setting: str, scope: str) -> None:
    """Count one form submission against the client address (a 429 page when over)."""
    with limiter().shared_limit(limit(setting), scope=scope):
        pass


@functools.lru_cache(maxsize=32)
def _parsed(value: str) -> RateLimitItem:
    return parse(value)


def counted(setting: str, scope: str) -> t.Callable[[F], F]:
    """Count each call of a view against the client address; over the limit, raise 429.

    For the protocol endpoints (token, revocation, introspection) that applications call
    thousands of times a second: it hits the limiter's storage directly (same storage,
    strategy and key prefix), where Flask-Limiter's route decorator spends more resolving
    which limits apply than counting. No X-RateLimit headers: clients get ``Retry-After``
    with the 429.
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            app = current_app
            item = _parsed(getattr(app.extensions["foyer.settings"], setting))
            prefix = app.extensions["foyer.settings"].instance_path
            if not limiter().limiter.hit(item, f"foyer:{prefix}", scope, client_address()):
                raise TooManyRequests()
            return view(*args, **kwargs)

        return t.cast(F, wrapper)

    return decorate
