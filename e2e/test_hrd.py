"""Home realm discovery in a real browser: every method, from the application's parameter to
the user's own choice, ending with tokens an application validates.

Accounts come from the ``hrd`` entry of the accounts file (``e2e/seed_hrd.py`` locally).
The organization picker and the refusal page are kept under ``e2e-artifacts/hrd-pages/``
and scanned with axe-core (:mod:`e2e.pages`).
"""

from __future__ import annotations

import socket
import typing as t

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


@pytest.fixture
def upstream(hrd) -> dict[str, t.Any]:
    if not hrd.get("upstream"):
        pytest.skip("no upstream identity provider on this deployment")
    return t.cast("dict[str, t.Any]", hrd["upstream"])


def expect_brand_color(page, color: str) -> None:
    """The organization's own primary color is the page's (its buttons carry it)."""
    primary = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--foyer-primary')"
    )
    assert primary.strip().lower() == color.lower()


def sign_in_at_the_idp(page, upstream: dict[str, t.Any]) -> None:
    page.wait_for_url(f"{upstream['issuer']}/**")
    page.locator("input[name=login]").fill(upstream["login"])
    page.locator("input[name=password]").fill("the IdP checks its own passwords")
    page.locator("button[type=submit]").click()


def test_email_domain_signs_in_at_the_organizations_idp(page, deployment, upstream):
    """The address's domain sends the browser to Umbrella's own IdP (npm's oidc-provider),
    which signs the person in and sends them back to Umbrella's pages (its name and color:
    the consent page of a third-party application), signed in to Umbrella; the same
    ``sub`` at the next sign-in, and the account page in Umbrella's brand."""
    partner = deployment.accounts.get("partner")
    if not partner:
        pytest.skip("the accounts file names no third-party client")
    visit = Visit(page, "idp-return", FOLDER)
    subjects = []
    for attempt, client in enumerate((partner, deployment.accounts["client"])):
        rp = RelyingParty(deployment.base_url, client)
        rp.catch_redirects(page)
        page.goto(rp.authorization_url(prompt="login") if attempt else rp.authorization_url())
        page.locator("#identifier").fill(upstream["email"])
        page.locator("#submit").click()
        sign_in_at_the_idp(page, upstream)
        if client is partner:  # back from the IdP, on Umbrella's page
            expect(page.locator("#consent-scopes")).to_be_visible()
            expect_brand(page, upstream["organization"])
            expect_brand_color(page, upstream["primary_color"])
            visit("consent")
            page.locator("#allow").click()
        claims = finish(page, rp)
        assert claims["org_name"] == "umbrella"
        assert claims["email"] == upstream["email"]
        subjects.append(claims["sub"])
    assert subjects[0] == subjects[1]
    page.goto(f"{deployment.base_url}/o/umbrella/account")
    expect_brand(page, upstream["organization"])
    expect_brand_color(page, upstream["primary_color"])
    expect(page.locator("main")).to_contain_text(upstream["email"])
    visit("account")
    assert visit.problems == []


def test_a_password_connection_and_the_idp_side_by_side(page, deployment, upstream):
    """Umbrella's page offers its IdP, the social buttons and a password form for its
    contractors: the form signs a contractor in, the IdP's button signs an employee in."""
    visit = Visit(page, "side-by-side", FOLDER)
    rp = RelyingParty(deployment.base_url, deployment.accounts["client"])
    rp.catch_redirects(page)
    page.goto(rp.authorization_url(organization="umbrella"))
    expect_brand(page, upstream["organization"])
    expect_brand_color(page, upstream["primary_color"])
    expect(page.get_by_role("button", name="Continue with Umbrella SSO")).to_be_visible()
    expect(page.locator("#login-identifier-form")).to_be_visible()
    visit("choices")
    contractor = upstream["contractor"]
    sign_in(page, contractor["email"], contractor["password"])
    claims = finish(page, rp)
    assert (claims["org_name"], claims["email"]) == ("umbrella", contractor["email"])

    rp = RelyingParty(deployment.base_url, deployment.accounts["client2"])
    rp.catch_redirects(page)
    page.goto(rp.authorization_url(organization="umbrella", prompt="login"))
    page.get_by_role("button", name="Continue with Umbrella SSO").click()
    sign_in_at_the_idp(page, upstream)
    claims = finish(page, rp)
    assert (claims["org_name"], claims["email"]) == ("umbrella", upstream["email"])
    assert visit.problems == []


def test_a_social_button_signs_in(page, deployment, upstream):
    """Google, Microsoft and GitHub buttons show their logos; GitHub's (a loopback stand-in
    for github.com) signs the person in to Umbrella with their verified address."""
    github = upstream.get("github")
    if not github:
        pytest.skip("no GitHub stand-in on this deployment")
    rp = RelyingParty(deployment.base_url, deployment.accounts["client"])
    rp.catch_redirects(page)
    page.goto(rp.authorization_url(organization="umbrella"))
    for name in ("Google", "Microsoft", "GitHub"):
        button = page.get_by_role("button", name=f"Continue with {name}")
        expect(button).to_be_visible()
        logo = button.locator("img")
        assert logo.evaluate("img => img.complete && img.naturalWidth > 0"), name
    page.get_by_role("button", name="Continue with GitHub").click()
    claims = finish(page, rp)
    assert (claims["org_name"], claims["email"]) == ("umbrella", github["email"])


def test_cancelling_at_the_idp_shows_the_organizations_page(page, deployment, upstream):
    rp = RelyingParty(deployment.base_url, deployment.accounts["client"])
    page.goto(rp.authorization_url(organization="umbrella"))
    expect_brand(page, upstream["organization"])
    page.locator("#connection-umbrella-sso").click()
    page.wait_for_url(f"{upstream['issuer']}/**")
    page.get_by_role("link", name="Cancel").or_(page.locator("a[href$='/abort']")).first.click()
    expect(page.locator("#error-title")).to_be_visible()
    expect_brand(page, upstream["organization"])
    expect(page.locator("#error-support")).to_contain_text(upstream["support_email"])
    expect(page.locator("#error-reference")).not_to_be_empty()


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
