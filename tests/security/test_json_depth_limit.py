"""JSON bodies are read with a size and a nesting limit (SECURITY.md I-07, I-08).

Deeply nested JSON to ``/hrd/lookup`` was a 500 (RecursionError). Every JSON-reading
endpoint goes through :func:`app.security.json_body.json_body`: a body it refuses is a 400
with ``{"error": "invalid_request"}`` in JSON, quickly, with nothing in the log; and
``request.get_json()`` anywhere refuses deep nesting too.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
from flask import request
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from werkzeug.exceptions import BadRequest

from app.security.json_body import MAX_JSON_BYTES
from app.security.json_body import MAX_JSON_DEPTH
from app.security.json_body import JsonBodyRefused
from app.security.json_body import nesting_depth
from app.security.json_body import parse_json

LOOKUP = "/hrd/lookup"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def post(client, body: bytes | str, content_type: str = "application/json"):
    return client.post(LOOKUP, data=body, content_type=content_type)


def assert_refused(response, words: str) -> None:
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.get_json()
    assert answer["error"] == "invalid_request"
    assert words in answer["error_description"]


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 30_000])
def test_deep_nesting_is_a_400_not_a_500(client, tenant, caplog, depth):
    caplog.set_level(logging.WARNING)
    started = time.perf_counter()
    response = post(client, nested(depth))
    assert time.perf_counter() - started < 2
    assert_refused(response, f"nests deeper than {MAX_JSON_DEPTH} levels")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_deep_objects_are_refused_too(client, tenant):
    body = '{"a":' * 50 + "1" + "}" * 50
    assert_refused(post(client, body), "nests deeper")


def test_brackets_inside_strings_do_not_count(client, tenant):
    identifier = '[{"\\"' + "[" * 100
    response = client.post(LOOKUP, json={"identifier": identifier})
    assert response.status_code == 200
    assert response.get_json() == {"organization": None, "connection": None, "method": None}


def test_the_limit_itself_is_accepted():
    assert parse_json(nested(MAX_JSON_DEPTH)) is not None
    with pytest.raises(JsonBodyRefused):
        parse_json(nested(MAX_JSON_DEPTH + 1))


def test_a_body_over_the_size_limit_is_refused(client, tenant):
    body = '{"identifier": "x", "pad": "' + "p" * MAX_JSON_BYTES + '"}'
    assert_refused(post(client, body), f"larger than {MAX_JSON_BYTES} bytes")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"identifier": "\xff\xfe"}', "not valid JSON"),
        ('{"identifier": NaN}', "not valid JSON"),
        ('{"identifier": Infinity}', "not valid JSON"),
        ('{"identifier": "x"', "not valid JSON"),
        ('{"identifier": ' + "9" * 5000 + "}", "not valid JSON"),
        ("", "not valid JSON"),
    ],
)
def test_malformed_bodies_are_refused(client, tenant, body, words):
    assert_refused(post(client, body), words)


def test_a_body_that_is_not_json_is_refused(client, tenant):
    assert_refused(post(client, "identifier=x", "application/x-www-form-urlencoded"), "JSON")


def test_request_get_json_refuses_deep_nesting_everywhere(foyer_app):
    with foyer_app.test_request_context(
        "/", method="POST", data=nested(5_000), content_type="application/json"
    ):
        with pytest.raises(BadRequest):
            request.get_json()
        assert request.get_json(silent=True) is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\ab'), children, max_size=3)
    ),
    max_leaves=30,
)


def depth_of(value) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=200, deadline=None, database=None)
@given(value=JSON)
def test_the_scan_measures_the_real_depth(value):
    assert nesting_depth(json.dumps(value), 1000) == depth_of(value)


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.binary(max_size=200) | st.text(alphabet='[]{}"\\a1,: ', max_size=200))
def test_any_input_parses_or_is_refused(data):
    try:
        parse_json(data)
    except JsonBodyRefused:
        pass
