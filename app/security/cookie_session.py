"""Flask's signed-cookie session, with its serializer built once per secret key."""

from __future__ import annotations

import typing as t

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask builds the cookie's serializer on every request, and itsdangerous probes the
    payload serializer each time by serializing an empty dict: a measurable share of a
    small request. The serializer holds no per-request state, so one per secret serves."""

    def __init__(self) -> None:
        self._serializers: dict[tuple[t.Any, ...], URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        serializer = self._serializers.get(key)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            if serializer is None:
                return None
            self._serializers = {key: serializer}  # a rotated secret replaces the old one
        return serializer


def init_cookie_session(app: Flask) -> None:
    app.session_interface = CookieSessionInterface()
