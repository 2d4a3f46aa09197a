"""Home realm discovery in a real browser: every method, from the application's parameter to
the user's own choice, ending with tokens an application validates.

Accounts come from the ``hrd`` entry of the accounts file (``e2e/seed_hrd.py`` locally).
The organization picker and the refusal page are kept under ``e2e-artifacts/hrd-pages/``
and scanned with axe-core (:mod:`e2e.pages`).
"""

from __future__ import annotations

import socket
import typing as t
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from e2e.pages import Visit
from e2e.rp import RelyingParty

FOLDER = "hrd-pages"


@pytest.fixture
def hrd(deployment) -> dict[str, t.Any]:
    accounts = deployment.accounts.get("hrd")
    if not accounts:
        pytest.skip("the accounts file has no 'hrd' entry")
    return accounts


@pytest.fixture
def loopback_names(monkeypatch):
    """Resolve ``*.localhost`` to the loopback address for this process, as Chromium does."""
    resolve = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def expect_brand(page, name: str) -> None:
    """The page header names the organization, as text or as its logo's alt (any theme)."""
    banner = page.get_by_role("banner")
    named = banner.get_by_text(name, exact=True).or_(banner.get_by_role("img", name=name))
    expect(named).to_be_visible()


def sign_in(page, email: str, password: str) -> None:
    page.locator("#identifier").fill(email)
    page.locator("#submit").click()
    page.locator("#password").fill(password)
    page.locator("#submit").click()


def finish(page, rp: RelyingParty) -> dict[str, t.Any]:
    rp.wait_until_back(page)
    token = rp.exchange()
    return rp.validate_id_token(token["id_token"], token["access_token"])


def test_organization_parameter(page, deployment, hrd):
    rp = RelyingParty(deployment.base_url, deployment.accounts["client"])
    rp.catch_redirects(page)
    carl = hrd["users"]["carl"]
    page.goto(rp.authorization_url(organization="contoso"))
    expect_brand(page, "Contoso")
    expect(page.locator("#choose-organization")).to_have_count(0)
    sign_in(page, carl["email"], carl["password"])
    claims = finish(page, rp)
    assert claims["org_name"] == "contoso"
    assert claims["email"] == carl["email"]


def test_vanity_host(page, deployment, hrd, loopback_names):
    northwind = hrd["organizations"]["northwind"]
    rp = RelyingParty(northwind["host"], deployment.accounts["client"])
    assert rp.metadata["issuer"] == northwind["host"]
    rp.catch_redirects(page)
    nina = hrd["users"]["nina"]
    page.goto(rp.authorization_url())
    expect_brand(page, northwind["display_name"])
    sign_in(page, nina["email"], nina["password"])
    claims = finish(page, rp)
    assert claims["iss"] == northwind["host"]
    assert claims["org_name"] == "northwind"


def test_organization_path(page, deployment, hrd):
    issuer = f"{deployment.base_url}/o/contoso"
    rp = RelyingParty(issuer, deployment.accounts["client"])
    assert rp.metadata["issuer"] == issuer
    assert rp.metadata["token_endpoint"] == f"{issuer}/oauth/token"
    rp.catch_redirects(page)
    carl = hrd["users"]["carl"]
    page.goto(rp.authorization_url())
    expect(page).to_have_url(f"{issuer}/login?tx=" + page.url.split("tx=")[-1])
    sign_in(page, carl["email"], carl["password"])
    claims = finish(page, rp)
    assert (claims["iss"], claims["org_name"]) == (issuer, "contoso")


def test_email_domain(page, deployment, hrd):
    rp = RelyingParty(deployment.base_url, deployment.accounts["client"])
    rp.catch_redirects(page)
    nina = hrd["users"]["nina"]
    page.goto(rp.authorization_url())
    page.locator("#identifier").fill(nina["email"].upper())
    page.locator("#submit").click()
    expect_brand(page, "Northwind Traders")
    page.locator("#password").fill(nina["password"])
    page.locator("#submit").click()
    assert finish(page, rp)["org_name"] == "northwind"


def test_identifier_map(page, deployment, hrd):
    rp = RelyingParty(deployment.base_url, deployment.accounts["client"])
    rp.catch_redirects(page)
    pia = hrd["users"]["pia"]
    page.goto(rp.authorization_url())
    sign_in(page, pia["email"], pia["password"])
    assert finish(page, rp)["org_name"] == "fabrikam"


def test_user_choice_on_the_picker_then_remembered(page, deployment, hrd):
    rp = RelyingParty(deployment.base_url, deployment.accounts["client"])
    rp.catch_redirects(page)
    carl = hrd["users"]["carl"]
    visit = Visit(page, "picker", FOLDER)
    page.goto(rp.authorization_url())
    page.locator("#choose-organization").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose your organization")
    visit("list")
    page.get_by_label("Search organizations").fill("conto")
    page.locator("#organization-search-submit").click()
    expect(page.locator("#organization-northwind")).to_have_count(0)
    visit("search")
    page.locator("#organization-contoso").click()
    expect_brand(page, "Contoso")
    sign_in(page, carl["email"], carl["password"])
    assert finish(page, rp)["org_name"] == "contoso"

    again = RelyingParty(deployment.base_url, deployment.accounts["client2"])
    again.catch_redirects(page)
    page.goto(again.authorization_url(prompt="login"))
    page.locator("#choose-organization").click()
    expect(page.locator("#organization-last")).to_have_text("Continue with Contoso")
    visit("remembered")
    assert visit.problems == []


def test_redirecting_connection_goes_upstream(page, deployment, hrd):
    upstream = hrd.get("upstream")
    if not upstream:
        pytest.skip("no upstream identity provider on this deployment")
    rp = RelyingParty(deployment.base_url, deployment.accounts["client"])
    rp.catch_redirects(page)
    page.goto(rp.authorization_url())
    page.locator("#identifier").fill(upstream["email"])
    page.locator("#submit").click()
    rp.wait_until_back(page)
    landed = urlsplit(rp.landed[-1])
    assert f"{landed.scheme}://{landed.netloc}{landed.path}" == upstream["idp"]
    assert parse_qs(landed.query)["login_hint"] == [upstream["email"]]


def test_user_of_one_organization_cannot_enter_another(page, deployment, hrd):
    rp = RelyingParty(deployment.base_url, deployment.accounts["client"])
    rp.catch_redirects(page)
    pia = hrd["users"]["pia"]  # a partner-pool member of Fabrikam only
    page.goto(rp.authorization_url(organization="contoso"))
    sign_in(page, pia["email"], pia["password"])
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot sign in here")
    expect(page.locator("main")).to_contain_text("not a member of Contoso")
    visit = Visit(page, "refused", FOLDER)
    visit("not-a-member")
    assert not rp.landed
    assert visit.problems == []
