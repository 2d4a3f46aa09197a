"""Security headers on every response: CSP, framing, referrer, no-sniff, HSTS on https."""

from __future__ import annotations

from flask import Flask
from flask import request
from werkzeug.wrappers import Response

CSP = (
    "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; "
    "font-src 'self' https: data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'self'"
)
"""No ``form-action``: browsers apply it to the redirect chain after a form post, which ends
at each client's own redirect_uri."""


def init_headers(app: Flask) -> None:
    asset_base = app.extensions["foyer.settings"].asset_base_url.rstrip("/")

    @app.after_request
    def _security_headers(response: Response) -> Response:
        h = response.headers
        csp = CSP
        if asset_base:
            csp = csp.replace("style-src 'self'", f"style-src 'self' {asset_base}")
            csp = csp.replace("script-src 'self'", f"script-src 'self' {asset_base}")
            csp = csp.replace("img-src 'self'", f"img-src 'self' {asset_base}")
            csp = csp.replace("font-src 'self'", f"font-src 'self' {asset_base}")
        h.setdefault("Content-Security-Policy", csp)
        h.setdefault("X-Frame-Options", "SAMEORIGIN")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if response.mimetype == "text/html":
            h.setdefault("Cache-Control", "no-store")
        return response


def allow_any_origin(response: Response, methods: str, headers: str) -> Response:
    """CORS for an endpoint browsers may call from any site (discovery, token, HRD lookup):
    its answer never depends on a cookie (and a wildcard origin forbids credentialed calls),
    so any origin may read it; preflights are cached for ten minutes."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = methods
        response.headers["Access-Control-Allow-Headers"] = headers
        response.headers["Access-Control-Max-Age"] = "600"
    return response
