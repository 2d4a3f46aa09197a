"""Flask's signed-cookie session: its serializer built once per secret key, the cookies
parsed only when the session cookie came, and never written in answer to a request that
could not have carried it."""

from __future__ import annotations

import typing as t

from flask import Flask
from flask import Request
from flask import Response
from flask import request
from flask.sessions import SecureCookieSession
from flask.sessions import SecureCookieSessionInterface
from flask.sessions import SessionMixin
from itsdangerous import URLSafeTimedSerializer

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Flask's, without parsing the request's cookies when the session cookie's name is
        nowhere in them (applications' API calls, most protocol requests)."""
        if self.get_signing_serializer(app) is None:
            return None
        if not _carried(self.get_cookie_name(app), request):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Write the cookie, except in answer to a POST (or other unsafe method) that came
        without it: the ``SameSite=Lax`` cookie stays home on a cross-site POST, so such a
        request may come from a hostile page, and a cookie set (or cleared) in its answer
        would replace the browser's own, signing the user out. A same-site form always
        carries the cookie its page set (with the CSRF token)."""
        if request.method not in SAFE_METHODS and not _carried(self.get_cookie_name(app)):
            return
        if not session and not session.modified:  # what Flask's own does, without its set-up
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def _carried(name: str, req: Request | None = None) -> bool:
    """Whether the request came with the cookie ``name``; its cookies are parsed only when
    the name is somewhere in its ``Cookie`` header."""
    req = req or t.cast(Request, request)
    return name in req.environ.get("HTTP_COOKIE", "") and name in req.cookies


def init_cookie_session(app: Flask) -> None:
    app.session_interface = CookieSessionInterface()
