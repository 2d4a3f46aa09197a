"""Per-application ``organization_usage``: deny, allow, require (and how to ask when a
required organization is absent: the picker first, or identifier first)."""

from __future__ import annotations

import pytest

from app.branding.loader import soft_breaks
from app.db import session
from tests.hrd.conftest import PASSWORDS
from tests.hrd.conftest import authorize
from tests.hrd.conftest import callback
from tests.hrd.conftest import exchange
from tests.hrd.conftest import sign_in
from tests.hrd.conftest import submit
from tests.hrd.conftest import text
from tests.hrd.conftest import type_identifier
from tests.hrd.conftest import type_password


@pytest.fixture
def requiring_client(make_client):
    def make(prompt: str = "picker"):
        client, secret = make_client("Org-only app", organization_usage="require")
        client.settings = {"organization_prompt": prompt}
        session.commit()
        return client, secret

    return make


def test_required_and_absent_asks_with_the_picker_first(
    client, world, requiring_client, recorded_events
):
    app, secret = requiring_client("picker")
    page, request = authorize(client, app)
    assert page.request.path == "/login/organization"
    assert 'id="organization-name-form"' in text(page)
    page = submit(client, page, "organization-name-form", organization_name="Initech")
    assert page.request.path == "/login"
    assert "Initech" in text(page)
    page = type_identifier(client, page, "carla@consultants.example")
    done = type_password(client, page, PASSWORDS["carla"])
    tokens = exchange(client, secret, request, callback(done, request))
    assert tokens.id_token["org_name"] == "initech"
    [event] = recorded_events("login_succeeded")
    assert [s["method"] for s in event.data["hrd"]] == ["user_choice", "user_lookup"]
    assert event.data["hrd"][0]["detail"] == "picker (name)"


def test_required_identifier_first_finds_the_organization_from_the_domain(
    client, world, requiring_client
):
    app, secret = requiring_client("identifier_first")
    page, request = authorize(client, app)
    assert page.request.path == "/login"
    done = type_password(
        client, type_identifier(client, page, "alice@acme.example"), PASSWORDS["alice"]
    )
    assert exchange(client, secret, request, callback(done, request)).id_token["org_name"] == "acme"


def test_required_identifier_first_asks_when_the_identifier_does_not_tell(
    client, world, requiring_client
):
    app, secret = requiring_client("identifier_first")
    page, request = authorize(client, app)
    picker = type_identifier(client, page, "dora@consultants.example")
    assert picker.request.path == "/login/organization"
    body = text(picker)
    assert "We could not tell your organization" in body
    assert str(soft_breaks("dora@consultants.example")) in body  # the identifier is kept
    page = submit(client, picker, "organization-name-form", organization_name="globex")
    assert page.request.path == "/login/password"  # straight on: the identifier was typed
    done = type_password(client, page, PASSWORDS["dora"])
    tokens = exchange(client, secret, request, callback(done, request))
    assert tokens.id_token["org_name"] == "globex"


def test_required_organization_is_never_skipped_by_a_shared_pool_login(
    client, world, requiring_client
):
    app, _secret = requiring_client("identifier_first")
    page, _request = authorize(client, app)
    # carla's pool is not dedicated to an organization: a password page alone would sign her
    # in without one, which this application does not accept
    answer = type_identifier(client, page, "carla@consultants.example")
    assert answer.request.path == "/login/organization"


def test_required_and_given_needs_no_question(client, world, requiring_client):
    app, secret = requiring_client()
    tokens = sign_in(
        client, app, secret, "alice@acme.example", PASSWORDS["alice"], organization="acme"
    )
    assert tokens.id_token["org_name"] == "acme"


def test_required_with_a_session_of_no_organization_asks_again(
    client, world, requiring_client, app_client
):
    app, secret = app_client
    sign_in(client, app, secret, "carla@consultants.example", PASSWORDS["carla"])
    org_app, _secret = requiring_client()
    page, _request = authorize(client, org_app)
    assert page.request.path == "/login/organization"


def test_deny_refuses_an_organization_parameter(client, world, make_client):
    app, _secret = make_client("Personal app", organization_usage="deny")
    response, request = authorize(client, app, organization="acme")
    answer = callback(response, request)
    assert answer["error"] == "invalid_request"
    assert answer["error_description"] == "This application does not sign in to organizations."


def test_deny_refuses_a_vanity_host(foyer_app, world, make_client):
    from app.testing import host_client

    app, _secret = make_client("Personal app", organization_usage="deny")
    response, request = authorize(host_client(foyer_app, "acme.login.test"), app)
    assert callback(response, request)["error"] == "invalid_request"


def test_deny_signs_in_without_organization_claims(client, world, make_client, recorded_events):
    app, secret = make_client("Personal app", organization_usage="deny")
    tokens = sign_in(client, app, secret, "alice@acme.example", PASSWORDS["alice"])
    assert "org_id" not in tokens.id_token and "org_name" not in tokens.id_token
    [event] = recorded_events("login_succeeded")
    assert event.organization_id is None
    assert (
        "left out: the application does not use organizations" in (event.data["hrd"][0]["detail"])
    )


def test_deny_never_carries_the_sessions_organization(client, world, make_client, app_client):
    app, secret = app_client
    sign_in(client, app, secret, "alice@acme.example", PASSWORDS["alice"], organization="acme")
    personal, personal_secret = make_client("Personal app", organization_usage="deny")
    response, request = authorize(client, personal)
    tokens = exchange(client, personal_secret, request, callback(response, request))
    assert "org_id" not in tokens.id_token


def test_deny_offers_no_organization_picker(client, world, make_client):
    app, _secret = make_client("Personal app", organization_usage="deny")
    page, _request = authorize(client, app)
    assert 'id="choose-organization"' not in text(page)


def test_allow_without_organization_offers_the_picker_link(client, world, app_client):
    page, _request = authorize(client, app_client[0])
    assert 'id="choose-organization"' in text(page)
