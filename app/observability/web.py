"""The app side of observability: request ids, one log line and the metrics of each request,
the health probes and the ``/metrics`` endpoint.

Probes and metrics answer on every host (a load balancer probes by address), write nothing
and touch no tenant: ``/health/live`` does no I/O, ``/health/ready`` one query and, with
Redis, one ``PING``.
"""

from __future__ import annotations

import hmac
import logging
import time
import typing as t

import sqlalchemy as sa
from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import g
from flask import jsonify
from flask import request
from flask.wrappers import Request
from werkzeug.wrappers import Response

from app.db import get_database
from app.migrate import schema_state
from app.observability import metrics
from app.observability.logs import REQUEST_ID_HEADER
from app.observability.logs import request_id
from app.observability.logs import request_id_of
from app.security.counters import redis_client

access_log = logging.getLogger("foyer.access")
log = logging.getLogger(__name__)

RETRY_AFTER = "5"
"""Seconds a client is told to wait when Foyer is not ready or its database is down."""

bp = Blueprint("health", __name__)

PROBE_ENDPOINTS = frozenset({"health.live", "health.ready", "health.metrics"})
"""Not written to the log (a probe every second would drown it); still counted."""


@bp.get("/health/live")
def live() -> Response:
    """The process answers: nothing else is checked (restart it when this fails)."""
    return _no_store(jsonify(status="ok"))


@bp.get("/health/ready")
def ready() -> Response:
    """Whether this process can serve: the database answers with this code's schema (or a
    newer one, during a rolling upgrade), and Redis answers when configured. 503 with
    ``Retry-After`` otherwise."""
    checks = {"database": "ok", "migrations": "current", "redis": "not configured"}
    try:
        with get_database().engine.connect() as connection:
            revision = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            current = revision.scalar()
        checks["migrations"] = schema_state(get_database(), current)
    except sa.exc.SQLAlchemyError as exc:
        log.warning("readiness: database unreachable (%s)", type(exc).__name__)
        checks["database"] = "unreachable"
        checks["migrations"] = "unknown"
    client = current_app.extensions.get("foyer.health_redis")
    if client is not None:
        try:
            client.ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            log.warning("readiness: Redis unreachable (%s)", type(exc).__name__)
            checks["redis"] = "unreachable"
    ok = checks["database"] == "ok" and checks["migrations"] in ("current", "ahead")
    ok = ok and checks["redis"] in ("ok", "not configured")
    response = jsonify(status="ok" if ok else "unavailable", checks=checks)
    if not ok:
        response.status_code = 503
        response.headers["Retry-After"] = RETRY_AFTER
    return _no_store(response)


@bp.get("/metrics")
def metrics_endpoint() -> Response:
    """Prometheus' text format, for a bearer of ``FOYER_METRICS_TOKEN``; 404 without one
    set (then ``FOYER_METRICS_ADDRESS`` serves the metrics, or nothing does)."""
    token = current_app.extensions["foyer.settings"].metrics_token
    if not token:
        return _no_store(Response("Not Found\n", 404, mimetype="text/plain"))
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = Response("Unauthorized\n", 401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return _no_store(response)
    body, content_type = metrics.exposition()
    return _no_store(Response(body, 200, content_type=content_type))


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# --- Every request ------------------------------------------------------------------------


def _start() -> None:
    ctx = g._get_current_object()  # type: ignore[attr-defined]
    ctx.request_started = time.perf_counter()
    ctx.request_id = request_id_of(request.environ)


def _finish(response: Response) -> Response:
    """Give the response its request id, count it and log it (one line)."""
    # the proxies resolved once: each ``request.x`` through them costs a context lookup
    req = t.cast(Request, request._get_current_object())  # type: ignore[attr-defined]
    ctx = g._get_current_object()  # type: ignore[attr-defined]
    rid = ctx.get("request_id") or request_id()
    if rid is not None:
        response.headers[REQUEST_ID_HEADER] = rid
    started = ctx.get("request_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    try:
        endpoint, status = req.endpoint, response.status_code
        metrics.observe_request(endpoint, req.method, status, seconds)
        if endpoint not in PROBE_ENDPOINTS and access_log.isEnabledFor(logging.INFO):
            fields = request_fields(req, ctx, status, seconds)
            access_log.info(
                "%s %s %s", req.method, fields["route"], status, extra={"fields": fields}
            )
    except Exception:  # noqa: BLE001 - observing must never break an answer
        log.debug("could not observe a request", exc_info=True)
    return response


def _route(req: Request) -> str:
    """The matched route's pattern (``/o/<organization>/login``), never the path: paths and
    query strings may carry what a log must not hold."""
    rule = req.url_rule
    return rule.rule if rule is not None else "(unmatched)"


def request_fields(req: Request, ctx: t.Any, status: int, seconds: float) -> dict[str, t.Any]:
    """The access log's fields: who was served, where, how, and how long it took."""
    tenant, organization, client = _served(req, ctx)
    return {
        "kind": "request",
        "method": req.method,
        "route": _route(req),
        "endpoint": req.endpoint,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "tenant": tenant,
        "organization": organization,
        "client": client,
        "ip": req.remote_addr,
    }


def _served(req: Request, ctx: t.Any) -> tuple[str | None, str | None, str | None]:
    """Names of the tenant, organization and application the request was for, as the
    rooms left them on ``g`` (a sign-in, a vanity host, an ``/o/<name>/`` path)."""
    domain = ctx.get("tenant_domain")
    sign_in = ctx.get("foyer_sign_in")
    tenant = getattr(getattr(domain, "tenant", None), "name", None)
    organization = (
        getattr(sign_in, "organization", None)
        or ctx.get("path_organization")
        or getattr(domain, "organization", None)
    )
    client = getattr(getattr(sign_in, "client", None), "client_id", None)
    if client is None and domain is not None:  # no tenant: nothing was asked of a client
        client = req.args.get("client_id")
        if client is None and req.mimetype == "application/x-www-form-urlencoded":
            client = req.form.get("client_id")
        if client is None and req.authorization is not None:
            client = req.authorization.username  # Basic: the id, never the secret
    return tenant, getattr(organization, "name", None), client[:100] if client else None


def init_observability(app: Flask) -> None:
    """Probes, ``/metrics``, and a request id, log line and metrics for every request."""
    settings = app.extensions["foyer.settings"]
    if settings.redis_url:
        app.extensions["foyer.health_redis"] = redis_client(settings.redis_url)
    app.register_blueprint(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
