"""Every way home realm discovery chooses a realm can land on an upstream IdP and come
back signed in to the right organization, on the URL the sign-in started from."""

from __future__ import annotations

import re

from app.db import session
from app.hookspecs import hookimpl
from app.hrd.identifier_map import set_route
from app.hrd.realm import HomeRealm
from app.testing import host_client
from tests.federation.conftest import authorize
from tests.federation.conftest import callback
from tests.federation.conftest import come_back
from tests.federation.conftest import exchange
from tests.federation.conftest import press
from tests.federation.conftest import submit
from tests.federation.conftest import text
from tests.federation.conftest import upstream_params
from tests.hrd.conftest import type_identifier


def finish(browser, idp, secret, request, redirected, sub):
    return exchange(
        browser, secret, request, callback(come_back(browser, idp, redirected, sub), request)
    )


def test_organization_parameter_shows_the_button(client, realm, idp, app_client):
    idp.person("kim", email="kim@acme.example", email_verified=True)
    app, secret = app_client
    page, request = authorize(client, app, organization="acme")
    tokens = finish(client, idp, secret, request, press(client, page, "acme-sso"), "kim")
    assert tokens.id_token["org_name"] == "acme"


def test_connection_parameter_goes_straight_upstream(client, realm, idp, app_client):
    idp.person("kim", email="kim@acme.example", email_verified=True)
    app, secret = app_client
    redirected, request = authorize(
        client, app, connection="acme-sso", login_hint="kim@acme.example"
    )
    assert upstream_params(redirected)["login_hint"] == "kim@acme.example"
    assert finish(client, idp, secret, request, redirected, "kim").id_token["org_name"] == "acme"


def test_vanity_host_comes_back_to_its_own_callback(realm, idp, app_client, foyer_app):
    idp.person("kim", email="kim@acme.example", email_verified=True)
    app, secret = app_client
    browser = host_client(foyer_app, "acme.login.test")
    page, request = authorize(browser, app)
    redirected = press(browser, page, "acme-sso")
    assert upstream_params(redirected)["redirect_uri"] == "https://acme.login.test/login/callback"
    tokens = finish(browser, idp, secret, request, redirected, "kim")
    assert tokens.id_token["iss"] == "https://acme.login.test"
    assert tokens.id_token["org_name"] == "acme"


def test_organization_path_comes_back_to_its_own_callback(client, realm, idp, app_client):
    idp.person("kim", email="kim@acme.example", email_verified=True)
    app, secret = app_client
    page, request = authorize(client, app, prefix="/o/acme")
    redirected = press(client, page, "acme-sso")
    params = upstream_params(redirected)
    assert params["redirect_uri"] == "https://login.test/o/acme/login/callback"
    tokens = finish(client, idp, secret, request, redirected, "kim")
    assert tokens.id_token["iss"] == "https://login.test/o/acme"


def test_email_domain(client, realm, idp, app_client):
    idp.person("kim", email="kim@acme.example", email_verified=True)
    app, secret = app_client
    page, request = authorize(client, app)
    redirected = type_identifier(client, page, "kim@acme.example")
    assert finish(client, idp, secret, request, redirected, "kim").id_token["org_name"] == "acme"


def test_identifier_map(client, tenant, realm, idp, app_client):
    set_route(tenant, "contractor@elsewhere.example", realm.acme, realm.acme_sso)
    session.commit()
    idp.person("con", email="contractor@elsewhere.example", email_verified=True)
    app, secret = app_client
    page, request = authorize(client, app)
    redirected = type_identifier(client, page, "contractor@elsewhere.example")
    assert finish(client, idp, secret, request, redirected, "con").id_token["org_name"] == "acme"


def test_plugin(client, tenant, realm, idp, app_client, register_plugin, enable_plugin):
    class Directory:
        @hookimpl
        def home_realm_for_identifier(self, identifier, tenant):
            if identifier.endswith("@directory.example"):
                return HomeRealm(connection=realm.acme_sso, detail="the directory says acme")
            return None

    register_plugin(Directory(), name="directory")
    enable_plugin("directory")
    idp.person("dir", email="dir@directory.example", email_verified=True)
    app, secret = app_client
    page, request = authorize(client, app)
    redirected = type_identifier(client, page, "dir@directory.example")
    assert finish(client, idp, secret, request, redirected, "dir").id_token["org_name"] == "acme"


def test_picker(client, realm, idp, make_client):
    app, secret = make_client("Workspace", organization_usage="require")
    idp.person("kim", email="kim@acme.example", email_verified=True)
    picker, request = authorize(client, app)
    assert 'id="organization-name-form"' in text(picker), text(picker)[:500]
    page = submit(client, picker, "organization-name-form", organization_name="acme")
    tokens = finish(client, idp, secret, request, press(client, page, "acme-sso"), "kim")
    assert tokens.id_token["org_name"] == "acme"


def test_an_organization_with_several_connections_offers_each(client, realm, idp, app_client):
    app, secret = app_client
    page, request = authorize(client, app, organization="globex")
    body = text(page)
    assert 'id="login-identifier-form"' in body  # its database, by email and password
    assert re.search(
        r'id="connection-globex-sso"[^>]*>\s*(<img class="button__logo"[^>]*>)?\s*'
        r"<span>Continue with <bdi>Globex SSO",
        body,
    )
    idp.person("gil", email="gil@globex.example", email_verified=True)
    redirected = press(client, page, "globex-sso")
    tokens = finish(client, idp, secret, request, redirected, "gil")
    assert tokens.id_token["org_name"] == "globex"
