"""The management API's errors: one JSON shape with a stable ``code`` and the ``field``.

Every failure under ``/api/`` and ``/scim/`` answers JSON, never a page: views raise
:class:`ApiError`; request validation (webargs), unknown paths, wrong methods and
unexpected exceptions are turned into the same body by :func:`api_error_response`.
"""

from __future__ import annotations

import json
import logging
import typing as t

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from app.hooks import PluginError

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_field",
    428: "precondition_required",
    429: "rate_limited",
    500: "server_error",
    503: "service_unavailable",
}
"""The code of an error nothing more precise was said about, by HTTP status."""


class ApiError(Exception):
    """A refused API request: ``status``, a stable ``code``, a message for developers and,
    when one input is at fault, its ``field``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: t.Mapping[str, str] | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})
        self.errors = errors

    def body(self) -> dict[str, t.Any]:
        body: dict[str, t.Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.errors:
            body["errors"] = self.errors
        return body


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"No such {what}.")


def invalid(field: str, message: str, code: str = "invalid_field") -> ApiError:
    return ApiError(422, code, message, field=field)


def json_response(status: int, body: t.Any, headers: t.Mapping[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _flatten(messages: t.Any, prefix: str = "") -> list[dict[str, str]]:
    """webargs' nested ``{"json": {"field": ["msg"]}}`` as ``[{"field", "message"}]``."""
    found: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = str(key) if not prefix else f"{prefix}.{key}"
            found.extend(_flatten(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        found.append({"field": prefix, "message": " ".join(messages)})
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            found.extend(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        found.append({"field": prefix, "message": str(messages)})
    return found


LOCATIONS = ("json", "query", "headers", "view_args", "form", "path")


def from_http_exception(exc: HTTPException) -> ApiError:
    """An :class:`ApiError` for a framework error (validation, routing, size limits)."""
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:
        errors = []
        for location, fields in messages.items() if isinstance(messages, dict) else ():
            for item in _flatten(fields):
                field = item["field"]
                errors.append({"field": field or location, "message": item["message"]})
        if errors:
            first = errors[0]
            code = "invalid_field" if status == 422 else HTTP_CODES.get(status, "invalid_request")
            return ApiError(status, code, first["message"], first["field"], errors=errors)
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    if status == 429:
        headers["Retry-After"] = str(getattr(exc, "retry_after", None) or 60)
    message = exc.description or exc.name
    if message == "unknown_host":
        message = "No tenant is served at this host."
    return ApiError(status, HTTP_CODES.get(status, "error"), message, headers=headers)


def api_error_response(exc: Exception) -> Response:
    """The JSON answer to any exception raised while serving an API request."""
    if isinstance(exc, ApiError):
        error = exc
    elif isinstance(exc, HTTPException):
        error = from_http_exception(exc)
    elif isinstance(exc, PluginError):
        error = ApiError(
            502, "plugin_failed", f"The plugin {exc.plugin} failed; nothing was changed."
        )
    else:
        log.exception("unhandled error in the API")
        error = ApiError(500, "server_error", "An unexpected error stopped this request.")
    return json_response(error.status, error.body(), error.headers)
