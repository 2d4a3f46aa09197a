"""Rate limits (Flask-Limiter, ``limits``' sliding-window counters) per client address,
counted where every worker and host sees the same numbers.

With FOYER_REDIS_URL, in Redis through ``limits``' own Redis storage; without it, in the
database (:class:`CounterStorage` over :class:`~app.security.counters.DatabaseCounters`).
Never in a worker's memory. While Redis fails, :class:`FailoverStorage` counts in the
database against limits :data:`FALLBACK_DIVISOR` times stricter, so sign-in keeps working
and no address gets more attempts because Redis is down.

The address is ``request.remote_addr``, which only trusted proxies (FOYER_TRUSTED_PROXIES)
may rewrite, so a spoofed X-Forwarded-For neither bypasses nor shifts a limit.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import time
import typing as t

import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask import request
from flask_limiter import Limiter
from limits import RateLimitItem
from limits import parse
from limits.storage import RedisStorage
from limits.storage import Storage
from limits.storage.base import SlidingWindowCounterSupport
from limits.storage.base import TimestampedSlidingWindow
from werkzeug.exceptions import TooManyRequests

from app.security.counters import Breaker
from app.security.counters import Counters
from app.security.counters import DatabaseCounters
from app.security.counters import FailoverCounters
from app.security.counters import RedisCounters
from app.security.counters import redis_client

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

FALLBACK_DIVISOR = 2
"""While Redis fails, each limit allows this many times fewer attempts (in the database)."""


class CounterStorage(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """``limits``' storage interface over the database's counters (public API only)."""

    STORAGE_SCHEME = ["foyer-database"]

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        counters: DatabaseCounters | None = None,
        **options: float | str | bool,
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        if counters is None:
            raise ValueError("CounterStorage needs the database's counters")
        self.counters = counters

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sa.exc.SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self.counters.add(key, expiry, time.time(), amount).value

    def get(self, key: str) -> int:
        return self.counters.peek(key, time.time()).value

    def get_expiry(self, key: str) -> float:
        now = time.time()
        return self.counters.peek(key, now).expires_at or now

    def check(self) -> bool:
        try:
            self.counters.peek("check", time.time())
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        self.counters.clear_all()
        return None

    def clear(self, key: str) -> None:
        self.counters.clear(key)

    def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        """Count first, then compare: two workers at once cannot both take the last place
        (the one over the limit gives its count back). The previous window's count comes
        back with the new one, from the same statement."""
        if amount > limit:
            return False
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        count, previous = self.counters.add_beside(
            current_key, 2 * expiry, now, amount, previous_key
        )
        current = count.value
        previous_weight = _previous_ttl(previous, expiry, now) / expiry
        if math.floor(previous * previous_weight + current) > limit:
            self.counters.add(current_key, 2 * expiry, now, -amount)
            return False
        return True

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous = self.counters.peek(previous_key, now).value
        current = self.counters.peek(current_key, now).value
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous, _previous_ttl(previous, expiry, now), current, current_ttl

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        self.counters.clear(*self.sliding_window_keys(key, expiry, time.time()))


def _previous_ttl(previous: int, expiry: int, now: float) -> float:
    """How long the previous window still weighs (as ``limits``' own storages count it)."""
    return 0.0 if previous == 0 else (1 - (((now - expiry) / expiry) % 1)) * expiry


class FailoverStorage(Storage, SlidingWindowCounterSupport):
    """Redis (``limits``' :class:`RedisStorage`), and the database while Redis fails, with
    limits :data:`FALLBACK_DIVISOR` times stricter."""

    STORAGE_SCHEME = ["foyer-failover"]

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        primary: RedisStorage | None = None,
        fallback: CounterStorage | None = None,
        breaker: Breaker | None = None,
        **options: float | str | bool,
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        if primary is None or fallback is None or breaker is None:
            raise ValueError("FailoverStorage needs Redis, the database and a breaker")
        self.primary = primary
        self.fallback = fallback
        self.breaker = breaker

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return self.fallback.base_exceptions

    def _call(self, name: str, *args: t.Any, stricter: bool = False) -> t.Any:
        fallback_args = args
        if stricter:  # (key, limit, expiry, amount): fewer places while counting apart
            key, limit, *rest = args
            fallback_args = (key, max(1, limit // FALLBACK_DIVISOR), *rest)
        return self.breaker.run(
            lambda: getattr(self.primary, name)(*args),
            lambda: getattr(self.fallback, name)(*fallback_args),
        )

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return t.cast(int, self._call("incr", key, expiry, amount))

    def get(self, key: str) -> int:
        return t.cast(int, self._call("get", key))

    def get_expiry(self, key: str) -> float:
        return t.cast(float, self._call("get_expiry", key))

    def check(self) -> bool:
        return bool(self._call("check"))

    def reset(self) -> int | None:
        return t.cast("int | None", self._call("reset"))

    def clear(self, key: str) -> None:
        self._call("clear", key)

    def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        return bool(
            self._call("acquire_sliding_window_entry", key, limit, expiry, amount, stricter=True)
        )

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        return t.cast(
            "tuple[int, float, int, float]", self._call("get_sliding_window", key, expiry)
        )

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        self._call("clear_sliding_window", key, expiry)


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least one."""
    return str(max(1, math.ceil(seconds)))


def client_address() -> str:
    return request.remote_addr or "unknown"


def redis_prefix(secret_key: str) -> str:
    """The prefix of a deployment's keys in Redis: the same on every node (they all share
    the secret key, as their cookies must verify everywhere) and different for another
    deployment sharing the Redis server. Derived from the key, never the key itself; a
    folder name or a host name would count each node apart and double every limit."""
    digest = hmac.new(secret_key.encode(), b"foyer redis key prefix", hashlib.sha256)
    return f"foyer:{digest.hexdigest()[:16]}:"


def init_limiter(app: Flask) -> None:
    """The app's shared counters (``foyer.counters``) and the limiter counting on them."""
    settings = app.extensions["foyer.settings"]
    in_database = DatabaseCounters(app.extensions["foyer.db"])
    storage_options: dict[str, t.Any] = {"counters": in_database}
    storage_uri, prefix = "foyer-database://", "foyer:"
    counters: Counters = in_database
    if settings.redis_url:
        prefix = redis_prefix(settings.secret_key)
        client, breaker = redis_client(settings.redis_url), Breaker("redis")
        counters = FailoverCounters(RedisCounters(client, prefix), in_database, breaker)
        storage_uri = "foyer-failover://"
        storage_options = {
            "primary": RedisStorage(settings.redis_url, connection_pool=client.connection_pool),
            "fallback": CounterStorage(counters=in_database),
            "breaker": breaker,
        }
    app.extensions["foyer.counters"] = counters
    app.extensions["foyer.limit_prefix"] = prefix
    limiter = Limiter(
        key_func=client_address,
        storage_uri=storage_uri,
        storage_options=storage_options,
        strategy="sliding-window-counter",
        headers_enabled=False,  # a 429 says Retry-After; other answers tell no budget
        key_prefix=prefix,
    )
    hooks = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
    before = [list(functions.get(None, ())) for functions in hooks]
    limiter.init_app(app)
    # Flask-Limiter's own hooks around every request only cost time here: every limit is
    # declared on its view or checked inside it (none covers the whole app or a blueprint,
    # which its check before each request is for), none deducts after the answer, headers
    # are off (what it adds to each answer), and the state it resets at the end lives on
    # the request's own context.
    for functions, kept in zip(hooks, before, strict=True):
        functions[None] = kept
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


def hit(setting: str, *identifiers: str) -> bool:
    """Count one attempt against the limit in ``setting`` for ``identifiers`` (same storage,
    strategy and key prefix as the limiter's); False when over it."""
    app = current_app
    item = _parsed(getattr(app.extensions["foyer.settings"], setting))
    return limiter().limiter.hit(item, app.extensions["foyer.limit_prefix"], *identifiers)


def counted(setting: str, scope: str) -> t.Callable[[F], F]:
    """Count each call of a view against the client address; over the limit, raise 429.

    For the protocol endpoints (token, revocation, introspection) that applications call
    thousands of times a second: it hits the limiter's storage directly (:func:`hit`),
    where Flask-Limiter's route decorator spends more resolving which limits apply than
    counting. No X-RateLimit headers: clients get ``Retry-After`` with the 429.
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            if not hit(setting, scope, client_address()):
                raise TooManyRequests()
            return view(*args, **kwargs)

        return t.cast(F, wrapper)

    return decorate
