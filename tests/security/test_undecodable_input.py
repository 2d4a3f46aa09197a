"""Input the fuzzing net found to be a 500, each now answered like any other bad input
(SECURITY.md I-08): raw non-UTF-8 bytes in a query string, NUL in parameters (PostgreSQL
text cannot hold it), an Authorization header with a scheme and no credentials, and Host
headers that are no host name."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from app.db import session
from app.events.models import Event
from app.testing import host_client
from app.testing import read_form
from app.testing import token_request


@pytest.mark.parametrize("raw", ["\x80", "ui_locales=\xff\xfe", "client_id=%C3%A9\xe9"])
@pytest.mark.parametrize("path", ["/authorize", "/login", "/.well-known/openid-configuration"])
def test_raw_bytes_in_the_query_string(client, tenant, path, raw):
    response = client.get(path, environ_overrides={"QUERY_STRING": raw})
    assert response.status_code < 500


def test_raw_utf8_in_the_query_string_reads_as_its_text(client, tenant, oidc_client):
    model, _secret = oidc_client
    raw = f"client_id={model.client_id}&redirect_uri=https://app.test/callback&state=caf\xc3\xa9"
    response = client.get("/authorize", environ_overrides={"QUERY_STRING": raw})
    assert response.status_code == 302  # the client was found: the query was read
    assert "state=caf%C3%A9" in response.headers["Location"]


def test_nul_in_parameters_and_json(client, tenant, user):
    login = client.get("/login", follow_redirects=True)
    form = read_form(login.get_data(as_text=True), "login-identifier-form")
    step = client.post(form.action, data={**form.fields, "identifier": "alice\x00@example.com"})
    assert step.status_code < 500
    lookup = client.post("/hrd/lookup", json={"identifier": "a\x00@example.com"})
    assert lookup.status_code == 200
    authorize = client.get("/authorize", query_string={"client_id": "x\x00"})
    assert authorize.status_code == 400


@pytest.mark.parametrize(
    "header",
    [
        "Basic ",
        "Bearer ",
        " Basic",
        "Basic \t",
        "Basic ÿÿ",
        "Basic " + base64.b64encode(b"app\x00:secret").decode(),
        "Basic " + base64.b64encode(b"\xff:\xfe").decode(),
    ],
)
@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
def test_authorization_headers_without_usable_credentials(client, tenant, path, header):
    response = client.post(
        path,
        data={"grant_type": "client_credentials", "token": "x"},
        headers={"Authorization": header},
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_a_client_still_authenticates(client, make_client):
    model, secret = make_client(grant_types=["client_credentials"], scope="api")
    assert token_request(client, model, secret, grant_type="client_credentials").status_code == 200


@pytest.mark.parametrize("host", ["login.test\x00", "login.test_", "login test", "\x00", "[zz]"])
def test_host_headers_that_are_no_host_name(foyer_app, tenant, host):
    response = host_client(foyer_app).get(
        "/.well-known/openid-configuration", headers={"Host": host}
    )
    assert response.status_code == 404
    assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0
