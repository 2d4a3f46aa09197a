"""The account pages carry the brand of the organization the session signed in to, and the
account page names the user and their email address."""

from __future__ import annotations

import pytest

from app.testing import sign_in

PAGES = ["/account", "/account/password", "/account/mfa", "/account/mfa/setup", "/account/sessions"]


@pytest.mark.parametrize("path", PAGES)
def test_account_pages_carry_the_sessions_organization(client, user, make_organization, path):
    acme = make_organization("acme-corp", "Acme Corporation", theme="ember")
    sign_in(client, user, organization=acme)
    page = client.get(path, follow_redirects=True)
    body = page.get_data(as_text=True)
    assert page.status_code == 200, body[:300]
    assert 'class="theme-ember' in body and "Acme Corporation" in body


def test_without_an_organization_the_tenant_brand_stays(client, user):
    sign_in(client, user)
    body = client.get("/account").get_data(as_text=True)
    assert 'class="theme-default' in body and "Acme Inc." in body


def test_the_account_page_names_the_user(client, user):
    sign_in(client, user)
    body = client.get("/account").get_data(as_text=True)
    assert '<dd id="account-name"><bdi>Alice Example</bdi></dd>' in body
    assert (
        '<span class="word">alice</span><wbr><span class="word">@example.</span><wbr>'
        '<span class="word">com</span>'
    ) in body
