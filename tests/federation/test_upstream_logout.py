"""Upstream logout for OpenID Connect connections (RP-Initiated Logout 1.0) against the real
IdP (npm's oidc-provider): off by default; when ``upstream_logout`` is on, signing out of
Foyer goes through the IdP's ``end_session_endpoint`` with the sign-in's ID token as
``id_token_hint``, comes back to Foyer's ``/login/upstream-logout`` and on to the
application; the IdP's own session has then ended."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa

from app.db import session
from app.sessions.models import SsoSession
from app.strategies.oidc_models import OidcUpstreamSession
from app.testing import submit_form
from tests.federation.conftest import callback
from tests.federation.conftest import come_back
from tests.federation.conftest import exchange
from tests.federation.conftest import location
from tests.federation.conftest import start_by_email
from tests.federation.conftest import upstream_url
from tests.federation.upstream_idp import at_foyer


@pytest.fixture
def upstream_logout(realm):
    realm.acme_sso.options = {**realm.acme_sso.options, "upstream_logout": True}
    session.commit()
    return realm


def signed_in(client, idp, app_client):
    """Ada signed in through acme-sso; the IdP session lives in ``client.idp_session``."""
    idp.person("ada", email="ada@acme.example", email_verified=True, name="Ada")
    client.idp_session = requests.Session()
    app, secret = app_client
    redirected, request = start_by_email(client, app, "ada@acme.example")
    back = come_back(client, idp, redirected, "ada")
    return exchange(client, secret, request, callback(back, request))


def idp_still_signs_in(client, idp, app_client) -> bool:
    """Whether the IdP, asked again, answers at once (its session lives) or shows its form."""
    redirected, _request = start_by_email(client, app_client[0], "ada@acme.example", prompt="login")
    url = upstream_url(redirected).replace("prompt=login", "prompt=none")
    for _ in range(6):
        answer = client.idp_session.get(url, allow_redirects=False, timeout=10)
        url = urljoin(url, answer.headers.get("Location", ""))
        if not url.startswith(idp.origin):
            return "code=" in url
    return False


def confirm_at_idp(client, idp, url: str) -> str:
    """The IdP's "sign out?" page, confirmed; the URL it sends the browser back to."""
    page = client.idp_session.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, (page.status_code, page.text[:300])
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text)
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
    assert action, page.text[:500]
    done = client.idp_session.post(
        urljoin(url, unescape(action.group(1))),
        data={**fields, "logout": "yes"},
        allow_redirects=False,
        timeout=10,
    )
    assert done.status_code in (302, 303), done.text[:300]
    return done.headers["Location"]


def test_signing_out_does_not_sign_out_upstream_by_default(client, realm, idp, app_client):
    signed_in(client, idp, app_client)
    response = submit_form(client, client.get("/logout"), "logout-form")
    assert response.status_code == 303 and location(response).endswith("/logout")
    assert session.scalars(sa.select(OidcUpstreamSession)).all() == []
    assert idp_still_signs_in(client, idp, app_client)


def test_signing_out_of_foyer_signs_out_at_the_idp_when_the_connection_says_so(
    client, upstream_logout, idp, app_client
):
    signed_in(client, idp, app_client)
    [row] = session.scalars(sa.select(OidcUpstreamSession)).all()
    sso = session.get(SsoSession, row.sso_session_id)
    assert sso is not None and sso.ended_at is None
    hint = row.logout["id_token_hint"]
    assert hint.count(".") == 2 and hint.split(".")[1] not in row.logout_encrypted  # encrypted

    response = submit_form(client, client.get("/logout"), "logout-form")
    url = location(response)
    assert response.status_code == 303 and url.startswith(f"{idp.issuer}/session/end?"), url
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert params["post_logout_redirect_uri"] == "https://login.test/login/upstream-logout"
    assert params["client_id"] == "foyer-basic" and params["state"]
    claims = idp.decode(params["id_token_hint"])
    assert claims["sub"] == "ada" and claims["aud"] == "foyer-basic"
    session.expire_all()
    assert session.get(SsoSession, sso.id).ended_at is not None  # Foyer's own, first
    assert session.scalars(sa.select(OidcUpstreamSession)).all() == []

    back = confirm_at_idp(client, idp, url)
    assert back.startswith("https://login.test/login/upstream-logout?")
    assert parse_qs(urlsplit(back).query)["state"] == [params["state"]]
    done = client.get(at_foyer(back))
    assert location(done).endswith("/logout")
    assert not idp_still_signs_in(client, idp, app_client)  # the IdP's session ended


def test_application_logout_goes_through_the_idp_then_back_to_the_application(
    client, upstream_logout, idp, app_client
):
    app, _secret = app_client
    app.post_logout_redirect_uris = ["https://app.test/signed-out"]
    session.commit()
    tokens = signed_in(client, idp, app_client)
    response = client.get(
        "/oidc/logout",
        query_string={
            "id_token_hint": tokens.raw["id_token"],
            "post_logout_redirect_uri": "https://app.test/signed-out",
            "state": "bye",
        },
    )
    url = location(response)
    assert url.startswith(f"{idp.issuer}/session/end?"), url
    back = confirm_at_idp(client, idp, url)
    assert location(client.get(at_foyer(back))) == "https://app.test/signed-out?state=bye"


def test_a_forged_return_does_not_go_on_to_the_application(
    client, upstream_logout, idp, app_client
):
    app, _secret = app_client
    app.post_logout_redirect_uris = ["https://app.test/signed-out"]
    session.commit()
    tokens = signed_in(client, idp, app_client)
    response = client.get(
        "/oidc/logout",
        query_string={
            "id_token_hint": tokens.raw["id_token"],
            "post_logout_redirect_uri": "https://app.test/signed-out",
        },
    )
    assert location(response).startswith(idp.issuer)
    forged = client.get("/login/upstream-logout?state=guessed")
    assert location(forged).endswith("/logout")


def test_an_idp_that_is_down_at_logout_still_signs_out_of_foyer(
    client, upstream_logout, idp, app_client
):
    signed_in(client, idp, app_client)
    from app.strategies import oidc_metadata

    oidc_metadata.clear()
    realm_options = upstream_logout.acme_sso.options
    upstream_logout.acme_sso.options = {**realm_options, "issuer": "http://127.0.0.1:9"}
    session.commit()
    response = submit_form(client, client.get("/logout"), "logout-form")
    assert response.status_code == 303 and location(response).endswith("/logout")
    session.expire_all()
    assert all(s.ended_at is not None for s in session.scalars(sa.select(SsoSession)))
