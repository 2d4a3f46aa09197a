"""Signing out ends the refresh tokens of the session, for the applications that ask for it.

Every way a session ends (``/logout``, RP-initiated logout, the account page) revokes the
refresh-token families the applications got in that session, when the application's
``logout_revokes_refresh_tokens`` setting says so: on by default for first-party
applications, off for third-party ones (their ``offline_access`` outlives the sign-in).
Families from other sessions keep working.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.accounts import consent
from app.cli import AppContext
from app.cli import cli
from app.clients.models import Client
from app.configfile.apply import apply_spec
from app.configfile.source import read_source
from app.configfile.spec import read_spec
from app.db import session
from app.oidc.cli import register_commands
from app.oidc.models import TokenGrant
from app.testing import USER_PASSWORD
from app.testing import authorize
from app.testing import exchange_code
from app.testing import host_client
from app.testing import login
from app.testing import submit_form
from app.testing import token_request

SCOPE = "openid profile email offline_access"


def tokens_for(browser, client, secret):
    result = authorize(browser, client, scope=SCOPE)
    response = exchange_code(browser, client, result, secret)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def refresh(browser, client, secret, tokens):
    return token_request(
        browser, client, secret, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )


def sign_out(browser):
    answer = submit_form(browser, browser.get("/logout"), "logout-form")
    assert answer.status_code == 303


@pytest.fixture
def signed_in(client, user):
    assert login(client, user.email, USER_PASSWORD).status_code == 303
    return client


def test_logout_page_revokes_a_first_party_applications_refresh_tokens(signed_in, oidc_client):
    model, secret = oidc_client
    tokens = tokens_for(signed_in, model, secret)
    fresh = refresh(signed_in, model, secret, tokens)
    assert fresh.status_code == 200
    sign_out(signed_in)
    answer = refresh(signed_in, model, secret, fresh.get_json())
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_grant"
    access = fresh.get_json()["access_token"]
    userinfo = signed_in.get("/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert userinfo.status_code == 401  # the family's access tokens stop too
    family = session.scalar(sa.select(TokenGrant))
    session.refresh(family)
    assert family.revoked_reason == "logout"


def test_rp_initiated_logout_revokes_them_too(signed_in, oidc_client):
    model, secret = oidc_client
    tokens = tokens_for(signed_in, model, secret)
    answer = signed_in.get(
        "/oidc/logout",
        query_string={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://app.test/signed-out",
            "state": "s1",
        },
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("https://app.test/signed-out")
    assert refresh(signed_in, model, secret, tokens).status_code == 400


def test_an_application_that_keeps_them_keeps_them(signed_in, make_client):
    model, secret = make_client(name="Sync app", settings={"logout_revokes_refresh_tokens": False})
    tokens = tokens_for(signed_in, model, secret)
    sign_out(signed_in)
    assert refresh(signed_in, model, secret, tokens).status_code == 200


def test_third_party_applications_keep_them_unless_they_ask(signed_in, user, make_client):
    third, third_secret = make_client(name="Partner", settings={"require_consent": True})
    asking, asking_secret = make_client(
        name="Careful partner",
        settings={"require_consent": True, "logout_revokes_refresh_tokens": True},
    )
    for model in (third, asking):
        consent.remember(user, model, SCOPE)
    session.commit()
    kept = tokens_for(signed_in, third, third_secret)
    revoked = tokens_for(signed_in, asking, asking_secret)
    sign_out(signed_in)
    assert refresh(signed_in, third, third_secret, kept).status_code == 200
    assert refresh(signed_in, asking, asking_secret, revoked).status_code == 400


def test_other_sessions_keep_their_tokens(foyer_app, signed_in, user, oidc_client):
    model, secret = oidc_client
    other = host_client(foyer_app)
    assert login(other, user.email, USER_PASSWORD).status_code == 303
    mine = tokens_for(signed_in, model, secret)
    theirs = tokens_for(other, model, secret)
    sign_out(signed_in)
    assert refresh(signed_in, model, secret, mine).status_code == 400
    assert refresh(other, model, secret, theirs).status_code == 200


def test_ending_a_session_on_the_account_page_revokes_its_tokens(
    foyer_app, signed_in, user, oidc_client
):
    model, secret = oidc_client
    other = host_client(foyer_app)
    assert login(other, user.email, USER_PASSWORD).status_code == 303
    theirs = tokens_for(other, model, secret)
    page = signed_in.get("/account/sessions")
    answer = submit_form(
        signed_in, page, "sessions-form", current_password=USER_PASSWORD, session="others"
    )
    assert answer.status_code == 303
    assert refresh(other, model, secret, theirs).status_code == 400


def test_the_setting_is_set_by_the_cli_and_the_config_file(foyer_app, tenant):

    register_commands(cli)
    result = CliRunner().invoke(
        cli,
        [
            *("clients", "create", "--tenant", "acme", "--name", "Mobile"),
            *("--redirect-uri", "https://app.test/cb", "--logout-keeps-refresh-tokens"),
        ],
        obj=AppContext(foyer_app),
    )
    assert result.exit_code == 0, result.output
    mobile = session.scalar(sa.select(Client).where(Client.name == "Mobile"))
    assert mobile.settings["logout_revokes_refresh_tokens"] is False

    text = """
version: 1
tenant: {name: acme, display_name: Acme, domains: [login.test]}
connections: [{name: users}]
clients:
  - client_id: portal
    name: Portal
    secret: ${PORTAL_SECRET}
    redirect_uris: [https://portal.test/cb]
    logout_revokes_refresh_tokens: true
"""
    spec, reader = read_spec(read_source(text, "tenant.yaml", {"PORTAL_SECRET": "p" * 40}))
    apply_spec(spec, reader)
    portal = session.scalar(sa.select(Client).where(Client.client_id == "portal"))
    assert portal.settings["logout_revokes_refresh_tokens"] is True
