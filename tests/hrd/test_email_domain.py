"""Identifier first: the email's domain names the organization and its connection.

Domains match case-insensitively, in Unicode or punycode, and with subdomains only where
the organization asks for them. A redirecting connection goes straight to the upstream
IdP; a database connection shows the password page.
"""

from __future__ import annotations

import textwrap
from urllib.parse import urlsplit

import pytest

from app.db import session
from app.hrd.email_domains import email_domain_of
from app.orgs.services import add_member
from app.orgs.services import set_email_domains
from app.testing import read_form
from tests.hrd.conftest import PASSWORDS
from tests.hrd.conftest import authorize
from tests.hrd.conftest import callback
from tests.hrd.conftest import exchange
from tests.hrd.conftest import location
from tests.hrd.conftest import sign_in
from tests.hrd.conftest import submit
from tests.hrd.conftest import text
from tests.hrd.conftest import type_identifier
from tests.hrd.conftest import type_password


def test_email_domain_routes_to_the_organization_and_its_connection(
    client, world, app_client, recorded_events
):
    app, secret = app_client
    tokens = sign_in(client, app, secret, "gina@globex.example", PASSWORDS["gina"])
    assert tokens.id_token["org_name"] == "globex"
    assert tokens.id_token["sub"] == world.users["gina"].id
    [event] = recorded_events("login_succeeded")
    assert event.connection_id == world.globex_staff.id
    [step] = event.data["hrd"]
    assert step == {
        "method": "email_domain",
        "detail": "email domain globex.example",
        "organization": world.globex.id,
        "connection": world.globex_staff.id,
    }


def test_database_connection_shows_the_password_page_branded_for_the_organization(
    client, world, app_client
):
    page, _request = authorize(client, app_client[0])
    password_page = type_identifier(client, page, "gina@globex.example")
    assert password_page.request.path == "/login/password"
    assert 'id="password"' in text(password_page)
    assert "Globex Corporation" in text(password_page)


@pytest.mark.parametrize(
    "typed", ["Gina@GLOBEX.Example", "gina@Globex.EXAMPLE", "GINA@globex.example"]
)
def test_domain_matching_ignores_case_and_the_trailing_dot(client, world, app_client, typed):
    app, secret = app_client
    page, request = authorize(client, app)
    page = type_identifier(client, page, typed)
    done = type_password(client, page, PASSWORDS["gina"])
    tokens = exchange(client, secret, request, callback(done, request))
    assert tokens.id_token["org_name"] == "globex"


@pytest.mark.parametrize("claimed", ["bücher.example", "xn--bcher-kva.example", "BÜCHER.example"])
@pytest.mark.parametrize(
    "typed", ["otto@bücher.example", "otto@xn--bcher-kva.example", "otto@BÜCHER.EXAMPLE"]
)
def test_idn_domains_match_in_unicode_and_punycode(
    client, world, app_client, make_user, claimed, typed
):
    set_email_domains(world.umbrella, [(claimed, False, world.contractors.id)])
    session.commit()
    app, secret = app_client
    make_user("otto@bücher.example", "otto at bücher", world.contractors)
    tokens = sign_in(client, app, secret, typed, "otto at bücher")
    assert tokens.id_token["org_name"] == "umbrella"


def test_subdomains_match_when_the_organization_includes_them(client, world, app_client, make_user):
    make_user("eve@eu.acme.example", "eve's acme password", world.acme_staff)
    app, secret = app_client
    tokens = sign_in(client, app, secret, "eve@eu.acme.example", "eve's acme password")
    assert tokens.id_token["org_name"] == "acme"


def test_subdomains_do_not_match_when_the_organization_leaves_them_out(
    client, world, app_client, make_user, recorded_events
):
    make_user("gina@paris.globex.example", "gina in paris", world.globex_staff)
    page, _request = authorize(client, app_client[0])
    page = type_identifier(client, page, "gina@paris.globex.example")
    refused = type_password(client, page, "gina in paris")
    # globex claims globex.example only: no organization, so globex's own users stay out
    assert refused.status_code == 400
    [event] = recorded_events("login_failed")
    assert [s["method"] for s in event.data["hrd"]] == ["user_lookup"]
    assert event.organization_id is None


def test_an_exact_domain_wins_over_a_parents_subdomain_rule(client, world, app_client, make_user):
    set_email_domains(world.initech, [("labs.acme.example", False, world.partners.id)])
    add_member(
        world.initech, make_user("ivan@labs.acme.example", "ivan at the labs", world.partners)
    )
    session.commit()
    app, secret = app_client
    tokens = sign_in(client, app, secret, "ivan@labs.acme.example", "ivan at the labs")
    assert tokens.id_token["org_name"] == "initech"


def test_redirecting_connection_goes_straight_to_the_upstream_idp(
    client, world, app_client, recorded_events
):
    page, _request = authorize(client, app_client[0])
    response = type_identifier(client, page, "Una@Umbrella.example")
    assert response.status_code == 303
    upstream = urlsplit(location(response))
    assert (upstream.netloc, upstream.path) == ("idp.test", "/umbrella-sso/authorize")
    assert "login_hint=Una%40Umbrella.example" in upstream.query
    [event] = recorded_events("login_redirected")
    assert event.organization_id == world.umbrella.id
    assert event.connection_id == world.umbrella_sso.id
    assert event.data["hrd"][-1]["method"] == "email_domain"
    assert response.headers["Set-Cookie"].startswith("foyer_last_org=")


def test_organization_page_offers_each_of_its_connections(
    client, world, app_client, recorded_events
):
    page, request = authorize(client, app_client[0], organization="umbrella")
    body = text(page)
    assert 'id="connection-umbrella-sso"' in body
    assert "Continue with <bdi>Umbrella SSO</bdi>" in body
    assert 'id="login-identifier-form"' in body
    # a contractor signs in with a password through the same page
    app, secret = app_client
    done = type_password(
        client, type_identifier(client, page, "otto@freelance.example"), PASSWORDS["otto"]
    )
    tokens = exchange(client, secret, request, callback(done, request))
    assert tokens.id_token["org_name"] == "umbrella"


def test_the_idp_button_sends_the_browser_upstream(client, world, app_client, recorded_events):
    page, _request = authorize(client, app_client[0], organization="umbrella")
    response = submit(client, page, "login-connection-form", connection="umbrella-sso")
    assert response.status_code == 303
    assert location(response).startswith("https://idp.test/umbrella-sso/authorize")
    [event] = recorded_events("login_redirected")
    assert event.data["hrd"][-1]["method"] == "user_choice"


def test_a_button_for_a_connection_the_page_did_not_offer_is_refused(client, world, app_client):
    page, _request = authorize(client, app_client[0], organization="acme")
    assert 'id="login-connection-form"' not in text(page)
    form = read_form(text(page), "login-identifier-form")
    action = form.action.replace("/login?", "/login/connection?")
    response = client.post(action, data={**form.fields, "connection": "umbrella-sso"})
    assert response.status_code == 400


def test_email_domain_of_normalizes_or_refuses():
    assert email_domain_of("A@Bücher.Example") == "xn--bcher-kva.example"
    assert email_domain_of("no-at-sign") is None
    assert email_domain_of("@example.com") is None
    assert email_domain_of("a@bad_domain!") is None


def test_two_organizations_claiming_one_domain_is_refused_at_config_time(foyer_app, tmp_path):
    from click.testing import CliRunner

    from app.cli import AppContext
    from app.cli import cli
    from app.configfile.cli import register_commands

    register_commands(cli)
    config = tmp_path / "tenant.yaml"
    config.write_text(
        textwrap.dedent("""\
        version: 1
        tenant: {name: claims, display_name: Claims, domains: [https://claims.test]}
        connections: [{name: staff}]
        organizations:
          - {name: one, display_name: One, connections: [staff],
             email_domains: [{domain: Shared.Example}]}
          - {name: two, display_name: Two, connections: [staff],
             email_domains: [{domain: shared.example}]}
    """)
    )
    result = CliRunner().invoke(cli, ["apply", str(config)], obj=AppContext(foyer_app))
    assert result.exit_code != 0
    assert "email domain shared.example is already claimed by 'one'" in result.output
