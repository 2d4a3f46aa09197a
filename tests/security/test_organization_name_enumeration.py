"""Organization names cannot be listed by guessing: while a tenant keeps its list private
(the default), unknown names count against the client address in the shared counters
(20 an hour), through every place a request names an organization; past that, known and
unknown names get the same refusal until the hour ends."""

from __future__ import annotations

import re
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from app.accounts.protection import Figures
from app.db import session
from app.testing import CLIENT_REDIRECT_URI
from app.testing import host_client
from app.testing import pkce_pair
from app.testing import submit_form

LIMIT = Figures().organization_guesses_per_hour


@pytest.fixture
def globex(make_organization):
    return make_organization("globex", "Globex Corporation")


def page_of(response) -> str:
    """The page without what differs between any two requests (CSRF token, ids)."""
    body = response.get_data(as_text=True)
    body = re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', "", body)
    body = re.sub(r"tx=[A-Za-z0-9_-]+", "tx=", body)
    return re.sub(r'id="error-reference"[^<]*<[^>]*>[^<]*', "", body)


def guess_paths(browser, count: int) -> None:
    for number in range(count):
        assert browser.get(f"/o/guess-{number}/login").status_code == 404


def authorize_with(browser, client, organization: str) -> dict[str, list[str]]:
    _verifier, challenge = pkce_pair()
    answer = browser.get(
        "/authorize",
        query_string={
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": CLIENT_REDIRECT_URI,
            "scope": "openid",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "organization": organization,
        },
    )
    location = answer.headers.get("Location", "")
    if not location.startswith(CLIENT_REDIRECT_URI):
        return {"signs_in": [location]}
    return parse_qs(urlsplit(location).query)


def test_past_the_figure_known_and_unknown_paths_answer_alike(
    backend, clock, client, globex, recorded_events
):
    assert LIMIT == 20
    assert client.get("/o/globex/login").status_code == 302  # known: the login page
    guess_paths(client, LIMIT)
    assert recorded_events("rate_limited")[-1].data["scope"] == "organization_names"
    known = client.get("/o/globex/login")
    unknown = client.get("/o/guess-99/login")
    assert known.status_code == unknown.status_code == 429
    assert known.headers["Retry-After"] == unknown.headers["Retry-After"] == "3600"
    assert page_of(known) == page_of(unknown)
    clock.advance(3600)
    assert client.get("/o/globex/login").status_code == 302


def test_known_names_never_count(backend, clock, client, globex):
    for _ in range(LIMIT * 2):
        assert client.get("/o/globex/.well-known/openid-configuration").status_code == 200


def test_the_figure_is_per_address(backend, clock, foyer_app, client, globex):
    guess_paths(client, LIMIT)
    other = host_client(foyer_app)
    other.environ_base["REMOTE_ADDR"] = "203.0.113.90"
    assert other.get("/o/globex/login").status_code == 302


def test_the_organization_parameter_counts_and_then_refuses_every_name(
    backend, clock, client, globex, oidc_client
):
    model, _secret = oidc_client
    assert "signs_in" in authorize_with(client, model, "globex")
    refused = authorize_with(client, model, "hooli")
    assert refused["error"] == ["invalid_request"]
    assert refused["error_description"] == ["Unknown organization."]
    guess_paths(client, LIMIT - 1)  # paths and parameters count together
    known, unknown = authorize_with(client, model, "globex"), authorize_with(client, model, "x")
    assert known == unknown
    assert known["error"] == ["invalid_request"]


def test_the_pickers_name_field_counts(backend, clock, client, globex):
    def pick(name: str):
        picker = client.get("/login/organization", follow_redirects=True)
        return submit_form(client, picker, "organization-name-form", organization_name=name)

    for number in range(LIMIT):
        assert pick(f"Hooli {number}").status_code == 400
    known, unknown = pick("Globex Corporation"), pick("Hooli")
    assert known.status_code == unknown.status_code == 429
    assert page_of(known) == page_of(unknown)


def test_a_tenant_that_lists_its_organizations_has_nothing_to_hide(
    backend, clock, client, tenant, globex
):
    tenant.settings = {"hrd": {"organization_picker": "list"}}
    session.commit()
    guess_paths(client, LIMIT + 5)
    assert client.get("/o/globex/login").status_code == 302


def test_the_figure_is_a_tenant_setting(backend, clock, client, tenant, globex):
    tenant.settings = {"attack_protection": {"organization_guesses_per_hour": 3}}
    session.commit()
    guess_paths(client, 3)
    assert client.get("/o/globex/login").status_code == 429
