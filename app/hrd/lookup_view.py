"""``POST /hrd/lookup``: the public home realm discovery lookup, as JSON.

Request ``{"identifier": "alice@acme.example"}``, read by
:func:`app.security.json_body.json_body` (size and nesting limited); answer
``{"organization": {id, name, display_name} | null, "connection": {name, display_name,
kind} | null, "method": "..." | null}`` (:mod:`app.hrd.lookup`). Rate limited per client
address (``FOYER_RATE_LIMIT_HRD_LOOKUP``): over it, ``429`` with ``Retry-After`` and
``{"error": "rate_limited"}``. Browsers may call it from other origins (no credentials).
"""

from __future__ import annotations

import time
import typing as t

from flask import Blueprint
from flask import Flask
from flask import jsonify
from flask import request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from app.events.record import record_event
from app.hookspecs import hookimpl
from app.hrd.lookup import MAX_IDENTIFIER_LENGTH
from app.hrd.lookup import lookup_realm
from app.security.headers import allow_any_origin
from app.security.json_body import json_body
from app.security.limits import limit
from app.security.limits import limiter
from app.security.limits import retry_after
from app.tenancy.paths import vanity_organization
from app.tenancy.resolve import current_tenant

bp = Blueprint("hrd", __name__, url_prefix="/hrd")

NO_STORE = {"Cache-Control": "no-store"}
RETRY_AFTER = "60"


def _json(body: dict[str, t.Any], status: int = 200, **headers: str) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers.update({**NO_STORE, **headers})
    return response


@bp.route("/lookup", methods=["POST"])
def lookup() -> Response:
    tenant = current_tenant()
    body = json_body()
    identifier = body.get("identifier") if isinstance(body, dict) else None
    if not isinstance(identifier, str) or len(identifier) > MAX_IDENTIFIER_LENGTH:
        return _json(
            {"error": "invalid_request", "error_description": 'Send JSON: {"identifier": "..."}.'},
            400,
        )
    return _json(lookup_realm(tenant, identifier, vanity_organization()).as_json())


@bp.after_request
def _cors(response: Response) -> Response:
    if request.endpoint == "hrd.lookup":
        return allow_any_origin(response, "POST", "Content-Type")
    return response


@bp.errorhandler(TooManyRequests)
def _rate_limited(exc: TooManyRequests) -> Response:
    record_event("rate_limited", tenant=current_tenant(), data={"endpoint": "hrd.lookup"})
    body = {"error": "rate_limited", "error_description": "Too many lookups; retry later."}
    return _json(body, 429, **{"Retry-After": lookup_retry_after()})


def lookup_retry_after() -> str:
    """Seconds until the client address may look up again: the limit's estimate (a sliding
    window's), never more than the window itself."""
    current = limiter().current_limit
    if current is None:
        return RETRY_AFTER
    return retry_after(min(current.reset_at - time.time(), current.limit.get_expiry()))


def _setup(state: BlueprintSetupState) -> None:
    """CSRF-exempt (a JSON API that changes nothing) and rate limited per address."""
    app = t.cast(Flask, state.app)
    app.extensions["csrf"].exempt(bp)
    app.view_functions["hrd.lookup"] = app.extensions["foyer.limiter"].limit(
        limit("rate_limit_hrd_lookup"), methods=["POST"]
    )(app.view_functions["hrd.lookup"])


bp.record_once(_setup)


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [bp]
