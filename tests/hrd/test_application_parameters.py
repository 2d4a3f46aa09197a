"""Application-driven HRD: ``organization`` and ``connection`` on ``/authorize``.

Errors about them come after the client and redirect_uri are validated, so they go back to
the application as ``error=invalid_request`` (with ``state`` and ``iss``), as RFC 6749
§4.1.2.1 asks; they never show a page built from a guess.
"""

from __future__ import annotations

from urllib.parse import parse_qsl
from urllib.parse import urlsplit

from tests.hrd.conftest import PASSWORDS
from tests.hrd.conftest import authorize
from tests.hrd.conftest import callback
from tests.hrd.conftest import exchange
from tests.hrd.conftest import location
from tests.hrd.conftest import sign_in
from tests.hrd.conftest import text
from tests.hrd.conftest import type_identifier
from tests.hrd.conftest import type_password


def test_organization_by_name_reaches_the_tokens(client, world, app_client, recorded_events):
    app, secret = app_client
    tokens = sign_in(
        client, app, secret, "alice@acme.example", PASSWORDS["alice"], organization="acme"
    )
    assert tokens.id_token["org_id"] == world.acme.id
    assert tokens.id_token["org_name"] == "acme"
    assert tokens.id_token["sub"] == world.users["alice"].id
    [event] = recorded_events("login_succeeded")
    assert event.organization_id == world.acme.id
    assert event.data["hrd"][0]["method"] == "organization_parameter"
    assert event.data["hrd"][0]["organization"] == world.acme.id


def test_organization_by_id_is_the_same_organization(client, world, app_client):
    app, secret = app_client
    tokens = sign_in(
        client, app, secret, "gina@globex.example", PASSWORDS["gina"], organization=world.globex.id
    )
    assert (tokens.id_token["org_id"], tokens.id_token["org_name"]) == (world.globex.id, "globex")


def test_organization_page_is_branded_before_any_identifier(client, world, app_client):
    page, _request = authorize(client, app_client[0], organization="globex")
    assert page.status_code == 200
    assert "Globex Corporation" in text(page)
    assert 'id="choose-organization"' not in text(page)  # the application chose it


def test_unknown_organization_goes_back_to_the_application_as_invalid_request(
    client, world, app_client, recorded_events
):
    response, request = authorize(client, app_client[0], organization="nope")
    answer = callback(response, request)
    assert answer["error"] == "invalid_request"
    assert answer["error_description"] == "Unknown organization."
    assert answer["iss"] == "https://login.test"
    assert "code" not in answer
    assert recorded_events("authorize_rejected")[-1].data["error"] == "invalid_request"


def test_unknown_organization_with_unregistered_redirect_uri_never_redirects(
    client, world, app_client
):
    response, _request = authorize(
        client, app_client[0], organization="nope", redirect_uri="https://evil.test/cb"
    )
    assert response.status_code == 400
    assert "evil.test" not in location(response)


def test_connection_parameter_routes_without_looking_at_the_identifier(
    client, world, app_client, recorded_events
):
    app, secret = app_client
    tokens = sign_in(
        client,
        app,
        secret,
        "carla@consultants.example",
        PASSWORDS["carla"],
        organization="initech",
        connection="partners",
    )
    assert tokens.id_token["org_name"] == "initech"
    [event] = recorded_events("login_succeeded")
    assert event.connection_id == world.partners.id
    assert [step["method"] for step in event.data["hrd"]] == [
        "organization_parameter",
        "connection_parameter",
    ]


def test_connection_dedicated_to_one_organization_brings_it(client, world, app_client):
    app, secret = app_client
    tokens = sign_in(
        client, app, secret, "alice@acme.example", PASSWORDS["alice"], connection="acme-staff"
    )
    assert tokens.id_token["org_name"] == "acme"


def test_connection_not_enabled_for_the_organization_is_refused(client, world, app_client):
    response, request = authorize(
        client, app_client[0], organization="initech", connection="acme-staff"
    )
    answer = callback(response, request)
    assert answer["error"] == "invalid_request"
    assert answer["error_description"] == (
        "Connection 'acme-staff' is not enabled for organization 'initech'."
    )


def test_unknown_connection_is_refused(client, world, app_client):
    response, request = authorize(client, app_client[0], connection="ldap")
    assert callback(response, request)["error_description"] == "Unknown connection."


def test_connection_parameter_of_a_redirecting_connection_goes_straight_upstream(
    client, world, app_client, recorded_events
):
    response, request = authorize(
        client, app_client[0], connection="umbrella-sso", login_hint="una@umbrella.example"
    )
    assert response.status_code == 303
    upstream = urlsplit(location(response))
    assert (upstream.scheme, upstream.netloc, upstream.path) == (
        "https",
        "idp.test",
        "/umbrella-sso/authorize",
    )
    query = dict(parse_qsl(upstream.query))
    assert query["login_hint"] == "una@umbrella.example"
    assert query["org"] == "umbrella"
    [event] = recorded_events("login_redirected")
    assert event.connection_id == world.umbrella_sso.id
    assert event.organization_id == world.umbrella.id
    assert [s["method"] for s in event.data["hrd"]] == [
        "connection_parameter",
        "dedicated_connection",
    ]


def test_organization_parameter_contradicting_the_vanity_host_is_refused(
    foyer_app, world, app_client
):
    from app.testing import host_client

    browser = host_client(foyer_app, "acme.login.test")
    response, request = authorize(browser, app_client[0], organization="globex")
    answer = callback(response, request)
    assert answer["error"] == "invalid_request"
    assert answer["error_description"] == (
        "The request names two organizations: 'globex' and 'acme'."
    )
    assert answer["iss"] == "https://acme.login.test"


def test_prompt_none_with_organization_needing_a_sign_in_answers_login_required(
    client, world, app_client
):
    response, request = authorize(client, app_client[0], organization="acme", prompt="none")
    assert callback(response, request)["error"] == "login_required"


def test_the_same_organization_again_reuses_the_session(client, world, app_client):
    app, secret = app_client
    sign_in(client, app, secret, "alice@acme.example", PASSWORDS["alice"], organization="acme")
    response, request = authorize(client, app, organization="acme")
    tokens = exchange(client, secret, request, callback(response, request))
    assert tokens.id_token["org_name"] == "acme"


def test_password_page_after_organization_parameter_lists_the_trace_in_failed_events(
    client, world, app_client, recorded_events
):
    page, _request = authorize(client, app_client[0], organization="acme")
    page = type_identifier(client, page, "alice@acme.example")
    wrong = type_password(client, page, "not it")
    assert wrong.status_code == 400
    [event] = recorded_events("login_failed")
    assert [s["method"] for s in event.data["hrd"]] == ["organization_parameter", "email_domain"]
    assert event.organization_id == world.acme.id
