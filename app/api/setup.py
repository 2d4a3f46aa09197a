"""Wiring the management API into an app: flask-smorest's ``Api`` (which generates the
OpenAPI 3.1 document from the views and schemas), JSON errors, rate limits, the document
and its reference page."""

from __future__ import annotations

import copy
import typing as t
from pathlib import Path

from flask import Flask
from flask import current_app
from flask import g
from flask import render_template
from flask import send_from_directory
from flask_smorest import Api
from werkzeug.wrappers import Response

from app.api import imports
from app.api import organizations
from app.api import tenant
from app.api import users
from app.api.errors import ApiError
from app.api.errors import api_error_response
from app.api.errors import json_response
from app.api.http import add_rate_limit_headers
from app.api.http import count_request
from app.api.policy import API_PATH
from app.api.policy import SCOPES
from app.api.policy import authenticate
from app.api.policy import management_audience
from app.api.schemas import ErrorSchema
from app.errors import answer_errors_under
from app.tenancy.resolve import request_issuer

BLUEPRINTS = (imports.bp, users.bp, organizations.bp, tenant.bp)
DESCRIPTION = """\
Manage the tenant's users, organizations, connections, applications, signing keys and event
log over HTTP. Authenticate with an access token of the client-credentials grant for the
audience `<issuer>/api/v1/`, carrying the scopes each operation names. A client bound to an
organization sees only that organization: anything else answers 404.

Errors are JSON bodies with a stable `code`, a `message` and, when one input is at fault,
its `field`. Reads answer an `ETag`; send it back in `If-Match` to change a resource only
if nobody changed it since. Creates honour `Idempotency-Key`. Every answer tells the
client's rate-limit budget (`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`).
"""


class FoyerApi(Api):  # type: ignore[misc]
    """flask-smorest's Api without its app-wide error handler: the API answers its own
    errors (:func:`app.errors.answer_errors_under`), the pages keep theirs."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        pass


def init_api(app: Flask) -> None:
    app.config.update(
        API_TITLE="Foyer management API",
        API_VERSION="1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX=None,  # served below, with the tenant's server URL
    )
    api = FoyerApi(
        app,
        spec_kwargs={"info": {"description": DESCRIPTION}},
    )
    api.spec.components.security_scheme(
        "bearer",
        {
            "type": "oauth2",
            "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": dict(SCOPES)}},
        },
    )
    csrf = app.extensions["csrf"]
    for blueprint in BLUEPRINTS:
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
        blueprint_name = blueprint.name
        app.before_request_funcs.setdefault(blueprint_name, []).append(_count)
        app.after_request_funcs.setdefault(blueprint_name, []).append(add_rate_limit_headers)
    app.extensions["foyer.api"] = api
    answer_errors_under(app, "/api/", _error_with_headers)
    app.register_error_handler(ApiError, _error_with_headers)
    app.add_url_rule(API_PATH + "openapi.json", "api_openapi", openapi_document)
    app.add_url_rule(API_PATH + "docs", "api_reference", reference_page)
    app.add_url_rule(API_PATH + "docs/reference.css", "api_reference_css", reference_css)


def _count() -> None:
    """Rate limits count per client: find it first (a bad token is counted per address
    and refused by the view's own check)."""
    try:
        authenticate()
    except ApiError:
        pass
    count_request()


def _error_with_headers(exc: Exception) -> Response:
    return add_rate_limit_headers(api_error_response(exc))


ERROR_RESPONSE = {
    "description": "An error: a stable code, a message and the field at fault",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def document() -> dict[str, t.Any]:
    """The OpenAPI document of this app (built once), for the request's tenant."""
    built = current_app.extensions.get("foyer.api.document")
    if built is None:
        spec = current_app.extensions["foyer.api"].spec.to_dict()
        for path_item in spec.get("paths", {}).values():
            for operation in path_item.values():
                if isinstance(operation, dict) and "responses" in operation:
                    operation["responses"].setdefault("default", ERROR_RESPONSE)
        current_app.extensions["foyer.api.document"] = built = spec
    spec = copy.deepcopy(built)
    issuer = request_issuer()
    spec["servers"] = [{"url": issuer, "description": "This tenant"}]
    flows = spec["components"]["securitySchemes"]["bearer"]["flows"]
    flows["clientCredentials"]["tokenUrl"] = issuer + "/oauth/token"
    spec["info"]["x-audience"] = management_audience(issuer)
    return spec


def openapi_document() -> Response:
    """``GET /api/v1/openapi.json``: the document, generated from the code."""
    g.pop("api_rate_limit", None)
    return json_response(200, document())


STATIC = Path(__file__).parent / "static"


def reference_css() -> Response:
    response = send_from_directory(STATIC, "reference.css", max_age=3600)
    return t.cast(Response, response)


def _resolved(spec: dict[str, t.Any], item: dict[str, t.Any]) -> dict[str, t.Any]:
    """A response object, its ``$ref`` followed (``#/components/responses/...``)."""
    ref = item.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/components/responses/"):
        return item
    return t.cast(dict[str, t.Any], spec["components"]["responses"].get(ref.rsplit("/", 1)[1], {}))


def reference_page() -> str:
    """``GET /api/v1/docs``: the reference, rendered from the same document (no script)."""
    spec = document()
    operations = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            scopes = [s for req in operation.get("security", []) for v in req.values() for s in v]
            operations.append(
                {
                    "path": path,
                    "method": method.upper(),
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "tag": (operation.get("tags") or ["api"])[0],
                    "scopes": scopes,
                    "parameters": operation.get("parameters", []),
                    "body": operation.get("requestBody", {}).get("content", {}),
                    "responses": {
                        status: _resolved(spec, response)
                        for status, response in operation.get("responses", {}).items()
                    },
                }
            )
    return render_template("api/reference.html", spec=spec, operations=operations, scopes=SCOPES)
