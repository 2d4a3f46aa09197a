"""Discovery and the JWKS repeated from a per-process copy, before Flask's request set-up.

Relying parties, API gateways and their health checks fetch these two documents far more
often than anything in them changes, and Flask's set-up of a request (context, session,
tenant, hooks, headers) costs several times what the answer itself does. So the first
request for an address (host, scheme, path) is served by the app as usual; its status,
headers and body are kept, and later requests for the same address get them again with
their own request id, counted in the metrics and written to the access log like any other.

Freshness: a JWKS copy is kept no longer than the key ring it came from is trusted
(``cache_seconds`` after its last check), a discovery copy
``cache_seconds``; keys or domains changed by this process drop every copy at once.
Only ``200`` answers to a plain ``GET`` (no query, no credentials, no ``/o/<name>`` path)
are kept, at most :data:`MAX_ENTRIES`; ``cache_seconds = 0`` turns the layer off.
"""

from __future__ import annotations

import logging
import time
import typing as t

from flask import Flask
from flask import request

from app.observability import metrics
from app.observability.logs import REQUEST_ID_HEADER
from app.observability.logs import request_id_of
from app.tenancy.paths import ENVIRON_KEY as ORGANIZATION_PATH

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

access_log = logging.getLogger("foyer.access")

ENDPOINTS = {
    "/.well-known/openid-configuration": "oidc.discovery",
    "/.well-known/jwks.json": "oidc.jwks",
}
"""Paths answered from copies, and the endpoint each is counted and logged as."""
MAX_ENTRIES = 1024
"""Copies kept at most (one per tenant host, scheme and document); all are dropped when full."""
ENVIRON_KEY = "foyer.well_known"
"""Where the view leaves (keep until, tenant name, organization name) for this layer."""


def keep(until: float, tenant: str | None, organization: str | None) -> None:
    """Called by the discovery and JWKS views: this answer may be repeated until ``until``
    (``time.monotonic()``) for the same address."""
    request.environ[ENVIRON_KEY] = (until, tenant, organization)


class Copy(t.NamedTuple):
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    until: float
    generation: tuple[int, int]
    tenant: str | None
    organization: str | None


class WellKnownCopies:
    """WSGI layer inside the proxy layer (it reads the scheme and client address the
    trusted proxies gave) and around Flask."""

    def __init__(self, wsgi_app: WSGIApplication, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.copies: dict[tuple[str, ...], Copy] = {}

    def generation(self) -> tuple[int, int]:
        """Bumped whenever this process changes signing keys or cached domains and clients."""
        extensions = self.app.extensions
        return (extensions["foyer.oidc.keys"].generation, extensions["foyer.rowcache"].generation)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Any:
        endpoint = ENDPOINTS.get(environ.get("PATH_INFO", ""))
        if (
            endpoint is None
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or environ.get("HTTP_AUTHORIZATION")
            or ORGANIZATION_PATH in environ
        ):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        address = (
            environ["PATH_INFO"],
            environ.get("HTTP_HOST", ""),
            environ.get("wsgi.url_scheme", ""),
            environ.get("SCRIPT_NAME", ""),
        )
        copy = self.copies.get(address)
        generation = self.generation()
        if copy is None or copy.generation != generation or time.monotonic() >= copy.until:
            return self._fill(address, generation, environ, start_response)
        rid = request_id_of(environ)
        start_response(copy.status, [*copy.headers, (REQUEST_ID_HEADER, rid)])
        _observe(environ, endpoint, copy, rid, time.perf_counter() - started)
        return [copy.body]

    def _fill(
        self,
        address: tuple[str, ...],
        generation: tuple[int, int],
        environ: WSGIEnvironment,
        start_response: StartResponse,
    ) -> t.Any:
        """Serve through the app; keep the answer when the view said it may be kept."""
        answer: list[t.Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            answer[:] = [status, headers]
            return start_response(status, headers, exc_info)

        chunks = self.wsgi_app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        kept = environ.get(ENVIRON_KEY)
        if kept is not None and answer and answer[0].startswith("200 "):
            headers = [
                (name, value)
                for name, value in answer[1]
                if name.lower() not in ("x-request-id", "set-cookie")
            ]
            if len(headers) == len(answer[1]) - 1:  # no cookie was set: nothing personal
                if len(self.copies) >= MAX_ENTRIES:
                    self.copies.clear()
                until, tenant, organization = kept
                self.copies[address] = Copy(
                    answer[0], headers, body, until, generation, tenant, organization
                )
        return [body]


def _observe(environ: WSGIEnvironment, endpoint: str, copy: Copy, rid: str, seconds: float) -> None:
    """What :mod:`app.observability.web` does for every request: metrics and a log line."""
    try:
        metrics.observe_request(endpoint, "GET", 200, seconds)
        if access_log.isEnabledFor(logging.INFO):
            route = environ["PATH_INFO"]
            fields = {
                "kind": "request",
                "method": "GET",
                "route": route,
                "endpoint": endpoint,
                "status": 200,
                "duration_ms": round(seconds * 1000, 2),
                "tenant": copy.tenant,
                "organization": copy.organization,
                "client": None,
                "ip": environ.get("REMOTE_ADDR"),
            }
            access_log.info(
                "%s %s %s", "GET", route, 200, extra={"fields": fields, "request_id": rid}
            )
    except Exception:  # noqa: BLE001 - observing must never break an answer
        logging.getLogger(__name__).debug("could not observe a request", exc_info=True)


def init_well_known(app: Flask) -> None:
    """Put the layer around Flask (call it before the proxy layer wraps the app)."""
    if float(app.extensions["foyer.settings"].cache_seconds) > 0:
        app.wsgi_app = WellKnownCopies(app.wsgi_app, app)  # type: ignore[method-assign]
