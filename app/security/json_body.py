"""Reading JSON request bodies safely: a size limit and a nesting limit, checked first.

Python's ``json`` recurses once per nesting level, so a body of a hundred thousand ``[``
ends in RecursionError (a 500), and a body as large as the upload limit costs memory and
time for no use. Every view that reads JSON calls :func:`json_body`: a body it refuses is
answered ``400`` with ``{"error": "invalid_request", "error_description": ...}`` (the same
stable code as the endpoints' other request errors) and no view code runs. As a net for
code that calls ``request.get_json()`` itself (authlib, plugins), the app's JSON provider
checks the nesting too, so a deep body is a 400 there as well, never a 500.
"""

from __future__ import annotations

import json
import re
import typing as t

from flask import Flask
from flask import request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from app.security.request_input import without_nul

MAX_JSON_BYTES = 64 * 1024
"""Largest JSON body a view reads (the app's upload limit is far larger, for forms)."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects in a JSON body."""

TOKENS = re.compile(r'\\.|["\[\]{}]', re.S)
"""What the nesting scan looks at: escapes (skipped whole), quotes and brackets."""


class JsonBodyRefused(BadRequest):
    """A JSON body that cannot be read; its response is JSON, never a page."""

    def __init__(self, description: str) -> None:
        super().__init__(description)

    def get_response(self, environ: t.Any = None, scope: t.Any = None) -> Response:
        body = {"error": "invalid_request", "error_description": self.description}
        response = Response(json.dumps(body), status=400, mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response


def nesting_depth(text: str, stop_above: int) -> int:
    """How deep arrays and objects nest in ``text`` (brackets inside strings do not count),
    in one linear pass that stops once deeper than ``stop_above``."""
    depth = deepest = 0
    in_string = False
    for match in TOKENS.finditer(text):
        token = match.group()
        if token == '"':
            in_string = not in_string
        elif in_string or token[0] == "\\":
            continue
        elif token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_above:
                    break
        else:
            depth -= 1
    return deepest


def _no_constants(name: str) -> t.NoReturn:
    raise ValueError(f"{name} is not JSON")


def parse_json(data: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> t.Any:
    """Parse a JSON text (UTF-8) whose nesting is at most ``max_depth``.

    NUL characters in strings become SUB, as in query and form parameters.

    :raises JsonBodyRefused: for text that is not JSON (NaN and Infinity included), or
        nests deeper.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise JsonBodyRefused("The body is not valid JSON (UTF-8).") from None
    if nesting_depth(text, max_depth) > max_depth:
        raise JsonBodyRefused(f"The JSON body nests deeper than {max_depth} levels.")
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise JsonBodyRefused("The body is not valid JSON.") from None
    return _without_nul(value)


def _without_nul(value: t.Any) -> t.Any:
    """NUL in strings replaced, as in query and form parameters
    (:mod:`app.security.request_input`); recursion is bounded by the depth limit."""
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def json_body(max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> t.Any:
    """The current request's JSON body, parsed within the limits.

    :raises JsonBodyRefused: without ``Content-Type: application/json``, for a body larger
        than ``max_bytes``, and as :func:`parse_json` does.
    """
    if not request.is_json:
        raise JsonBodyRefused("Send a JSON body (Content-Type: application/json).")
    if request.content_length is not None and request.content_length > max_bytes:
        raise JsonBodyRefused(f"The JSON body is larger than {max_bytes} bytes.")
    data = request.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise JsonBodyRefused(f"The JSON body is larger than {max_bytes} bytes.")
    return parse_json(data, max_depth)


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, whose ``loads`` (``request.get_json()``) refuses deep nesting."""

    def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
        text = s.decode(json.detect_encoding(s), "surrogatepass") if isinstance(s, bytes) else s
        if nesting_depth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
        return super().loads(text, **kwargs)


def init_json_bodies(app: Flask) -> None:
    app.json = SafeJSONProvider(app)
    app.register_error_handler(JsonBodyRefused, lambda exc: exc.get_response())
