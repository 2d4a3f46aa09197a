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


HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
NO_STORE = ("Cache-Control", "no-store")


def content_security_policy(asset_base: str) -> str:
    """:data:`CSP`, with the asset host (``FOYER_ASSET_BASE_URL``) allowed where assets load."""
    if not asset_base:
        return CSP
    csp = CSP
    for directive in ("style-src", "script-src", "img-src", "font-src"):
        csp = csp.replace(f"{directive} 'self'", f"{directive} 'self' {asset_base}")
    return csp


def init_headers(app: Flask) -> None:
    """Every answer gets the headers below unless its view set them itself. They are built
    once, and each is added after one pass over the answer's own headers (one
    ``setdefault`` each scanned them twice)."""
    csp = content_security_policy(app.extensions["foyer.settings"].asset_base_url.rstrip("/"))
    always = [
        (name.lower(), (name, value))
        for name, value in (
            ("Content-Security-Policy", csp),
            ("X-Frame-Options", "SAMEORIGIN"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
        )
    ]

    @app.after_request
    def _security_headers(response: Response) -> Response:
        h = response.headers
        present = {name.lower() for name, _value in h.items()}
        missing = [header for name, header in always if name not in present]
        if request.is_secure and "strict-transport-security" not in present:
            missing.append(HSTS)
        if "cache-control" not in present and response.mimetype == "text/html":
            missing.append(NO_STORE)
        h.extend(missing)
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
