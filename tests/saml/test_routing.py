"""Home realm discovery lands on a SAML connection and comes back: by email domain, by the
organization's button beside its password connection, on an organization path and on a
vanity host (each coming back to its own ACS URL)."""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
from saml2 import BINDING_HTTP_REDIRECT

from app.connections.models import OrganizationConnection
from app.db import session
from app.orgs.services import set_email_domains
from app.tenancy.models import TenantDomain
from app.testing import CLIENT_REDIRECT_URI
from app.testing import host_client
from app.testing import pkce_pair
from app.testing import read_form
from tests.saml.conftest import code_of
from tests.saml.conftest import location
from tests.saml.conftest import post_response


def follow(browser, response, host="login.test"):
    while response.status_code in (302, 303) and location(response).startswith(
        ("/", f"https://{host}/")
    ):
        response = browser.get(location(response))
    return response


def open_login(browser, app, prefix="", host="login.test", **params: str) -> t.Any:
    _verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": CLIENT_REDIRECT_URI,
        "scope": "openid email",
        "state": "st-r",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    return follow(browser, browser.get(f"{prefix}/authorize", query_string=query), host)


def submit(browser, page, form_id, host="login.test", **values):
    form = read_form(page.get_data(as_text=True), form_id)
    return follow(browser, browser.post(form.action, data={**form.fields, **values}), host)


def at_idp(idp, response):
    url = location(response)
    assert url.startswith(f"{idp.base}/sso/redirect?"), (response.status_code, url)
    params = dict(parse_qsl(urlsplit(url).query))
    return idp.parse_authn_request(params, BINDING_HTTP_REDIRECT), params["RelayState"]


@pytest.fixture
def side_by_side(corp, connection, saml_connection):
    """``corp`` offers its password connection (``users``) and its SAML connection."""
    corp.connection_links.clear()
    session.flush()
    corp.connection_links.extend(
        [
            OrganizationConnection(connection_id=connection.id, position=0),
            OrganizationConnection(connection_id=saml_connection.id, position=1),
        ]
    )
    saml_connection.display_name = "Corp SSO"
    session.commit()
    return corp


def test_email_domain_discovery_lands_on_the_saml_idp_and_comes_back(
    client, corp, saml_connection, app_client, idp
):
    set_email_domains(corp, [("corp.example", False, saml_connection.id)])
    session.commit()
    page = open_login(client, app_client[0])
    authn, relay = at_idp(
        idp, submit(client, page, "login-identifier-form", identifier="ada@corp.example")
    )
    assert code_of(post_response(client, idp.response_for(authn), relay))["code"]


def test_saml_button_beside_the_password_form(client, side_by_side, app_client, idp):
    page = open_login(client, app_client[0], organization="corp")
    body = page.get_data(as_text=True)
    assert 'id="login-identifier-form"' in body
    assert 'id="connection-corp-saml"' in body
    authn, relay = at_idp(
        idp, submit(client, page, "login-connection-form", connection="corp-saml")
    )
    assert code_of(post_response(client, idp.response_for(authn), relay))["code"]


def test_organization_path_comes_back_to_its_own_acs(client, corp, app_client, idp):
    response = open_login(client, app_client[0], prefix="/o/corp", connection="corp-saml")
    authn, relay = at_idp(idp, response)
    acs = "https://login.test/o/corp/saml/corp-saml/acs"
    assert authn.message.assertion_consumer_service_url == acs
    answer = code_of(post_response(client, idp.response_for(authn), relay, acs=acs))
    assert answer["iss"] == "https://login.test/o/corp"


def test_vanity_host_comes_back_to_its_own_acs(foyer_app, tenant, corp, app_client, idp):
    tenant.domains.append(TenantDomain(hostname="corp.login.test", organization_id=corp.id))
    session.commit()
    browser = host_client(foyer_app, "corp.login.test")
    idp.trust(browser.get("/saml/corp-saml/metadata").get_data(as_text=True))
    response = open_login(browser, app_client[0], host="corp.login.test", connection="corp-saml")
    authn, relay = at_idp(idp, response)
    acs = "https://corp.login.test/saml/corp-saml/acs"
    assert authn.message.assertion_consumer_service_url == acs
    response = browser.post(
        acs, data={"SAMLResponse": idp.response_for(authn), "RelayState": relay}
    )
    answer = code_of(follow(browser, response, "corp.login.test"))
    assert answer["iss"] == "https://corp.login.test"
