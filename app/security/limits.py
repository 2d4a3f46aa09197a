"""Rate limits (Flask-Limiter): per client address, in Redis when FOYER_REDIS_URL is set.

The address is ``request.remote_addr``, which only trusted proxies (FOYER_TRUSTED_PROXIES)
may rewrite, so a spoofed X-Forwarded-For neither bypasses nor shifts a limit.
"""

from __future__ import annotations

import typing as t

from flask import Flask
from flask import current_app
from flask import request
from flask_limiter import Limiter


def client_address() -> str:
    return request.remote_addr or "unknown"


def init_limiter(app: Flask) -> None:
    settings = app.extensions["foyer.settings"]
    storage = settings.redis_url or "memory://"
    limiter = Limiter(
        key_func=client_address,
        storage_uri=storage,
        strategy="moving-window",
        headers_enabled=True,
        key_prefix=f"foyer:{settings.instance_path}:",
    )
    limiter.init_app(app)
    app.extensions["foyer.limiter"] = limiter


def limiter() -> Limiter:
    return t.cast(Limiter, current_app.extensions["foyer.limiter"])


def limit(setting: str) -> t.Callable[[], str]:
    """A limit string read from settings at request time (``limit("rate_limit_login")``)."""
    return lambda: getattr(current_app.extensions["foyer.settings"], setting)
