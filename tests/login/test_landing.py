"""The root of a tenant's address is a landing page; an unknown host says which hosts exist
in the demo and development, and nothing in production."""

from __future__ import annotations

import pytest

from app.db import session
from app.demo.cli import demo_settings
from app.tenancy.services import create_tenant
from app.testing import host_client
from app.testing import sign_in


@pytest.fixture
def foyer_config(foyer_config, tmp_path):
    return {**demo_settings(str(tmp_path / "instance"), rp_port=5001), **foyer_config}


def test_the_root_is_a_branded_landing_page(foyer_app, client, tenant):
    page = client.get("/")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Sign in to <bdi>Acme Inc.</bdi>" in body
    assert 'id="sign-in" href="/login"' in body
    assert 'id="demo-app" href="http://localhost:5001"' in body
    assert 'id="discovery" href="/.well-known/openid-configuration"' in body
    assert "docs/connecting-apps.md" in body


def test_the_landing_page_links_the_mailbox_only_when_it_is_on(foyer_app, client, tenant):
    settings = foyer_app.extensions["foyer.settings"]
    settings.dev_mailbox = False
    assert 'id="mailbox"' not in client.get("/").get_data(as_text=True)
    settings.dev_mailbox = True
    try:
        body = client.get("/").get_data(as_text=True)
    finally:
        settings.dev_mailbox = False
    assert 'id="mailbox" href="/_mailbox/"' in body


def test_signed_in_the_landing_page_leads_to_the_account(foyer_app, client, user):
    sign_in(client, user)
    body = client.get("/").get_data(as_text=True)
    assert 'id="account" href="/account"' in body and "alice@example.com" in body
    assert 'id="sign-in"' not in body


def test_in_production_the_landing_page_has_no_developer_links(foyer_app, client, tenant):
    foyer_app.extensions["foyer.settings"].demo = False
    body = client.get("/").get_data(as_text=True)
    assert 'id="sign-in"' in body and 'id="developer-links"' not in body


def test_an_organization_path_gets_the_organization_landing_page(client, organization):
    body = client.get("/o/globex/").get_data(as_text=True)
    assert "Sign in to <bdi>Globex</bdi>" in body


def test_an_unknown_host_names_the_configured_hosts_in_the_demo(foyer_app, tenant):
    create_tenant("other", "Other", ["http://localhost:5000"])
    session.commit()
    answer = host_client(foyer_app, "127.0.0.1:5000", scheme="http").get("/")
    body = answer.get_data(as_text=True)
    assert answer.status_code == 404 and answer.mimetype == "text/html"
    assert '<a href="http://localhost:5000/"' in body and '<a href="https://login.test/"' in body
    assert "127.0.0.1" in body  # the explanation names it, never the request's host
    evil = host_client(foyer_app, "evil.test").get("/login").get_data(as_text=True)
    assert "evil" not in evil


def test_an_unknown_host_gets_plain_text_in_production(foyer_app, tenant):
    foyer_app.extensions["foyer.settings"].demo = False
    answer = host_client(foyer_app, "127.0.0.1:5000", scheme="http").get("/")
    assert answer.status_code == 404 and answer.mimetype == "text/plain"
    assert "login.test" not in answer.get_data(as_text=True)
