"""Social presets: ``google`` and ``microsoft`` against the real upstream IdP (npm's
oidc-provider, playing Google and one Entra ID tenant), ``github`` against a local server
speaking GitHub's OAuth and API shapes. Each provider's "email only when verified" rule."""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from app.connections.strategies import UpstreamError
from app.strategies.social import MicrosoftStrategy
from tests.federation.conftest import authorize
from tests.federation.conftest import callback
from tests.federation.conftest import exchange
from tests.federation.conftest import follow
from tests.federation.conftest import location
from tests.federation.conftest import press
from tests.federation.conftest import text
from tests.federation.conftest import users_of
from tests.federation.github_api import CLIENT_SECRET as GITHUB_SECRET
from tests.federation.github_api import GitHub
from tests.federation.upstream_idp import CLIENT_SECRET
from tests.federation.upstream_idp import UpstreamIdp
from tests.federation.upstream_idp import at_foyer
from tests.federation.upstream_idp import missing
from tests.federation.upstream_idp import unavailable

TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
OTHER_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture
def github():
    """GitHub's stand-in on a loopback port."""
    server = GitHub()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def entra(tmp_path_factory):
    """One Entra ID tenant: issuer ``/<tid>/v2.0``, discovery of ``/organizations/v2.0``
    naming ``/{tenantid}/v2.0``."""
    why = missing()
    if why:
        unavailable(why)
    idp = UpstreamIdp(tmp_path_factory.mktemp("entra"), tenant=TENANT)
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture
def initech(tenant, make_connection, make_organization, idp, github, entra):
    google = make_connection(
        "google",
        "google",
        options={"issuer": idp.issuer, "client_id": "foyer-basic"},
        secrets={"client_secret": CLIENT_SECRET},
        display_name="Google",
    )
    microsoft = make_connection(
        "microsoft",
        "microsoft",
        options={"issuer": f"{entra.origin}/organizations/v2.0", "client_id": "foyer-basic"},
        secrets={"client_secret": CLIENT_SECRET},
        display_name="Microsoft",
    )
    hub = make_connection(
        "github",
        "github",
        options=github.options(),
        secrets={"client_secret": GITHUB_SECRET},
        display_name="GitHub",
    )
    staff = make_connection("initech-staff", display_name="Initech staff")
    make_organization("initech", "Initech", connections=[staff, google, microsoft, hub])
    entra.accounts.clear()
    entra.save_accounts()
    return {"google": google, "microsoft": microsoft, "github": hub}


def start(browser, app, connection, **params):
    page, request = authorize(browser, app, organization="initech", **params)
    assert page.status_code == 200, (page.status_code, location(page), text(page)[:500])
    return press(browser, page, connection), request


def back_at_foyer(browser, url):
    return follow(browser, browser.get(at_foyer(url)))


def upstream_query(response):
    target = location(response)
    assert response.status_code == 303 and target.startswith("http://127.0.0.1"), text(response)
    return target, {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}


# --- the login page ------------------------------------------------------------------------


def test_the_organization_shows_a_branded_button_per_provider(client, initech, app_client):
    app, _secret = app_client
    page, _request = authorize(client, app, organization="initech")
    html = text(page)
    for name, label in (("google", "Google"), ("microsoft", "Microsoft"), ("github", "GitHub")):
        button = re.search(rf'<button[^>]*id="connection-{name}"[^>]*>(.*?)</button>', html, re.S)
        assert button, html[:2000]
        assert f"button--{name}" in button.group(0)
        logo = re.search(r'<img class="button__logo" src="([^"]+)" alt=""', button.group(1))
        assert logo and logo.group(1).endswith(f"/{name}.svg"), button.group(1)
        assert f"Continue with <bdi>{label}</bdi>" in button.group(1)  # the accessible name
        served = client.get(logo.group(1))
        shipped = f"themes/default/static/img/connections/{name}.svg"
        assert served.status_code == 200 and served.data == open(shipped, "rb").read()
    assert 'id="login-identifier-form"' in html  # the database connection beside them


# --- GitHub --------------------------------------------------------------------------------


def test_github_signs_in_with_its_verified_primary_address(client, initech, app_client, github):
    github.user(
        "octocat",
        583231,
        "The Octocat",
        [
            {"email": "octo@old.example", "primary": False, "verified": True, "visibility": None},
            {
                "email": "octocat@github.example",
                "primary": True,
                "verified": True,
                "visibility": "public",
            },
        ],
    )
    app, secret = app_client
    redirected, request = start(client, app, "github")
    target, params = upstream_query(redirected)
    assert target.startswith(f"{github.base}/login/oauth/authorize?")
    assert params["redirect_uri"] == "https://login.test/login/callback"
    assert params["code_challenge_method"] == "S256" and params["state"]
    tokens = exchange(
        client,
        secret,
        request,
        callback(back_at_foyer(client, github.sign_in(target, "octocat")), request),
    )
    [user] = users_of(initech["github"])
    assert (user.email, user.email_verified, user.name) == (
        "octocat@github.example",
        True,
        "The Octocat",
    )
    assert user.app_metadata["github_login"] == "octocat"
    [identity] = user.identities
    assert identity.subject == "583231"  # the numeric id, never the (renamable) login
    assert tokens.id_token["sub"] == user.id
    assert ("GET", "/api/user/emails") in github.requests

    # renamed on GitHub: the same user (the id is the key), refreshed
    github.users["octocat"]["name"] = "Mona"
    redirected, request = start(client, app, "github", prompt="login")
    target, _ = upstream_query(redirected)
    again = exchange(
        client,
        secret,
        request,
        callback(back_at_foyer(client, github.sign_in(target, "octocat")), request),
    )
    assert again.id_token["sub"] == user.id
    assert len(users_of(initech["github"])) == 1


@pytest.mark.parametrize(
    "emails",
    [
        pytest.param(
            [{"email": "mallory@victim.example", "primary": True, "verified": False}],
            id="primary-unverified",
        ),
        pytest.param(
            [
                {"email": "mallory@own.example", "primary": True, "verified": False},
                {"email": "mallory@victim.example", "primary": False, "verified": True},
            ],
            id="verified-not-primary",
        ),
        pytest.param(None, id="emails-api-refused"),
    ],
)
def test_github_takes_no_address_unless_verified_and_primary(
    client,
    initech,
    app_client,
    github,
    emails,
):
    github.user("mallory", 666, None, emails)
    app, secret = app_client
    redirected, request = start(client, app, "github")
    target, _ = upstream_query(redirected)
    exchange(
        client,
        secret,
        request,
        callback(back_at_foyer(client, github.sign_in(target, "mallory")), request),
    )
    [user] = users_of(initech["github"])
    assert user.email is None and not user.email_verified
    assert user.name == "mallory"  # no display name: the login


def test_github_cancelled_gives_the_branded_page(
    client,
    initech,
    app_client,
    github,
    recorded_events,
):
    app, _secret = app_client
    redirected, _request = start(client, app, "github")
    target, _ = upstream_query(redirected)
    page = back_at_foyer(client, github.sign_in(target, None))
    assert page.status_code == 403, text(page)[:300]
    assert 'id="error-title"' in text(page)
    [failed] = recorded_events("upstream_failed")
    assert failed.data["code"] == "access_denied"
    assert users_of(initech["github"]) == []


def test_github_refuses_a_code_redeemed_with_the_wrong_verifier(
    client,
    initech,
    app_client,
    github,
):
    github.user("octocat", 1, "Octo", [])
    app, _secret = app_client
    redirected, _request = start(client, app, "github")
    target, _ = upstream_query(redirected)
    back = github.sign_in(target, "octocat")
    code = parse_qs(urlsplit(back).query)["code"][0]
    grant = github.codes[code]
    grant["code_challenge"] = "another-challenge"  # as if the code was minted for another
    page = back_at_foyer(client, back)
    assert page.status_code >= 400
    assert users_of(initech["github"]) == []


# --- Google --------------------------------------------------------------------------------


def test_google_takes_the_address_it_verified(client, initech, app_client, idp):
    idp.person("g-1", email="grace@gmail.example", email_verified=True, name="Grace Hopper")
    app, secret = app_client
    redirected, request = start(client, app, "google")
    target, params = upstream_query(redirected)
    assert params["scope"] == "openid email profile" and "hd" not in params
    exchange(
        client,
        secret,
        request,
        callback(back_at_foyer(client, idp.sign_in(target, "g-1")), request),
    )
    [user] = users_of(initech["google"])
    assert (user.email, user.email_verified, user.name) == (
        "grace@gmail.example",
        True,
        "Grace Hopper",
    )


def test_google_takes_no_address_it_did_not_verify(client, initech, app_client, idp):
    idp.person("g-2", email="grace@victim.example", email_verified=False, name="Not Grace")
    app, secret = app_client
    redirected, request = start(client, app, "google")
    target, _ = upstream_query(redirected)
    exchange(
        client,
        secret,
        request,
        callback(back_at_foyer(client, idp.sign_in(target, "g-2")), request),
    )
    [user] = users_of(initech["google"])
    assert user.email is None and not user.email_verified


def test_google_workspace_domain_is_asked_and_checked(client, initech, app_client, idp):
    connection = initech["google"]
    connection.options = {**connection.options, "hosted_domain": "initech.example"}
    from app.db import session

    session.commit()
    idp.person("g-3", email="peter@initech.example", email_verified=True, hd="initech.example")
    idp.person("g-4", email="milton@gmail.example", email_verified=True)
    app, secret = app_client
    redirected, request = start(client, app, "google")
    target, params = upstream_query(redirected)
    assert params["hd"] == "initech.example"
    exchange(
        client,
        secret,
        request,
        callback(back_at_foyer(client, idp.sign_in(target, "g-3")), request),
    )
    redirected, request = start(client, app, "google", prompt="login")
    target, _ = upstream_query(redirected)
    page = back_at_foyer(client, idp.sign_in(target, "g-4"))  # a personal account: refused
    assert page.status_code == 403, text(page)[:300]
    assert [u.email for u in users_of(connection)] == ["peter@initech.example"]


# --- Microsoft (Entra ID, multi-tenant) ----------------------------------------------------


def test_microsoft_validates_the_tenant_issuer_and_takes_a_domain_verified_address(
    client, initech, app_client, entra
):
    entra.person("ms-1", tid=TENANT, email="bill@contoso.example", xms_edov=True, name="Bill")
    app, secret = app_client
    redirected, request = start(client, app, "microsoft")
    target, _ = upstream_query(redirected)
    assert target.startswith(f"{entra.origin}/{TENANT}/v2.0/")  # the discovery's endpoints
    exchange(
        client,
        secret,
        request,
        callback(back_at_foyer(client, entra.sign_in(target, "ms-1")), request),
    )
    [user] = users_of(initech["microsoft"])
    assert (user.email, user.email_verified, user.name) == ("bill@contoso.example", True, "Bill")


def test_microsoft_takes_no_address_without_xms_edov(client, initech, app_client, entra):
    entra.person("ms-2", tid=TENANT, email="ceo@victim.example", name="Eve")  # nOAuth
    app, secret = app_client
    redirected, request = start(client, app, "microsoft")
    target, _ = upstream_query(redirected)
    exchange(
        client,
        secret,
        request,
        callback(back_at_foyer(client, entra.sign_in(target, "ms-2")), request),
    )
    [user] = users_of(initech["microsoft"])
    assert user.email is None and not user.email_verified


def test_microsoft_lets_in_only_the_listed_tenants(client, initech, app_client, entra):
    connection = initech["microsoft"]
    connection.options = {**connection.options, "tenants": [OTHER_TENANT]}
    from app.db import session

    session.commit()
    entra.person("ms-3", tid=TENANT, email="x@contoso.example", xms_edov=True)
    app, _secret = app_client
    redirected, _request = start(client, app, "microsoft")
    target, _ = upstream_query(redirected)
    page = back_at_foyer(client, entra.sign_in(target, "ms-3"))
    assert page.status_code == 403, text(page)[:300]
    assert users_of(connection) == []


def test_microsoft_refuses_a_token_whose_tid_is_not_its_issuers(foyer_app, initech, entra):
    """A token of tenant A claiming tenant B's ``tid`` (or the reverse): the issuer demanded
    is B's template, which A's ``iss`` is not."""
    strategy = MicrosoftStrategy(initech["microsoft"])
    options = strategy.options
    metadata = strategy.metadata(options)
    assert metadata["issuer"] == f"{entra.origin}/{{tenantid}}/v2.0"
    now = int(time.time())
    claims = {
        "iss": entra.issuer,
        "aud": "foyer-basic",
        "sub": "ms-9",
        "iat": now,
        "exp": now + 300,
        "nonce": "n",
    }
    good = entra.forge_id_token({**claims, "tid": TENANT})
    assert strategy.validate_id_token(options, metadata, good, {"nonce": "n"})["tid"] == TENANT
    for tid in (OTHER_TENANT, None, str(uuid.uuid4())):
        token = entra.forge_id_token({**claims, **({"tid": tid} if tid else {})})
        with pytest.raises(UpstreamError):
            strategy.validate_id_token(options, metadata, token, {"nonce": "n"})
    assert strategy.issuer_matches(options, metadata, f"{entra.origin}/{OTHER_TENANT}/v2.0")
    assert not strategy.issuer_matches(options, metadata, "https://evil.example/x/v2.0")


def test_presets_refuse_assume_email_verified_and_bad_options(foyer_app):
    from app.strategies.github import GitHubStrategy
    from app.strategies.social import GoogleStrategy

    assert ("assume_email_verified",) == tuple(
        f
        for f, _ in GoogleStrategy.check_options(
            {"client_id": "x", "assume_email_verified": True}, None
        )
    )
    assert [
        f for f, _ in MicrosoftStrategy.check_options({"client_id": "x", "tenants": ["nope"]}, None)
    ] == ["tenants"]
    assert [
        f
        for f, _ in GoogleStrategy.check_options(
            {"client_id": "x", "hosted_domain": "not a domain"}, None
        )
    ] == ["hosted_domain"]
    assert [f for f, _ in GitHubStrategy.check_options({}, {})] == [
        "client_id",
        "secrets.client_secret",
    ]
    assert GoogleStrategy.check_options({"client_id": "x"}, {"client_secret": "s"}) == []
