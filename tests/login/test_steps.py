"""The steps of a sign-in: the strategy, two-step verification, the login rules (which may
require a step: ``mfa`` or a plugin's own page), consent, then the code; for fresh and SSO
sign-ins alike."""

from __future__ import annotations

from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pyotp
import pytest
from flask import Blueprint
from flask import request
from flask import url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import escape

from app import hookimpl
from app.accounts import mfa
from app.accounts.models import User
from app.accounts.services import create_user
from app.connections.strategies import AuthResult
from app.db import session
from app.login.context import current_sign_in
from app.login.rules import MFA
from app.login.rules import LoginDecision
from app.login.steps import step_done
from app.login.steps import upstream_authenticated
from app.orgs.services import add_member
from app.testing import USER_PASSWORD
from app.testing import decode_jwt
from app.testing import exchange_code
from app.testing import host_client
from app.testing import login
from app.testing import pkce_pair
from app.testing import sign_in
from app.testing import submit_form

# --- An upstream IdP and a plugin step, mounted at start-up ---------------------------------


class UpstreamStrategy:
    """A redirecting connection whose IdP answers at ``/test-idp/callback`` (the test plays
    the IdP: it calls the callback with the user it signed in)."""

    name = "test-idp"
    kind = "redirect"

    def __init__(self, connection):
        self.connection = connection

    def start_login(self, login):
        return f"https://idp.test/authorize?state={login.transaction_id}"

    def authenticate(self, identifier, password):
        return AuthResult(None)

    def find_user(self, identifier):
        return None

    def set_password(self, user, password):
        raise NotImplementedError


idp = Blueprint("test_idp", __name__)


@idp.route("/test-idp/callback")
def idp_callback():
    user = session.get(User, request.args["user"])
    return upstream_authenticated(request.args["state"], user, ["pwd"])


terms = Blueprint("terms", __name__)


@terms.route("/terms", methods=["GET", "POST"])
def terms_page():
    """A plugin's step: accept the terms, then the sign-in goes on."""
    if request.method == "POST":
        return step_done("terms")
    tx = request.args.get("tx", "")
    user = current_sign_in().user
    return (
        f"<p>Terms for {escape(user.email if user else '')}</p>"
        f'<form id="terms-form" method="post" action="{url_for(".terms_page", tx=tx)}">'
        f'<input type="hidden" name="csrf_token" value="{generate_csrf()}"></form>'
    )


class StartUp:
    @hookimpl
    def register_connection_strategies(self):
        return [UpstreamStrategy]

    @hookimpl
    def register_blueprints(self):
        return [idp, terms]


@pytest.fixture
def foyer_plugins():
    return [StartUp()]


class Rules:
    """``check_login`` answering what a test asks, and remembering what it was shown."""

    def __init__(self, answer):
        self.answer = answer
        self.seen = []

    @hookimpl
    def check_login(self, context):
        self.seen.append((context.steps, tuple(context.amr)))
        return self.answer(context)


def require_mfa(context):
    return None if MFA in context.amr else LoginDecision.require(MFA)


def require_terms(context):
    return (
        None
        if "terms" in context.steps
        else LoginDecision.require("terms", page="terms.terms_page")
    )


# --- Helpers --------------------------------------------------------------------------------


def start(browser, app_client, **params):
    """``/authorize`` for ``app_client``; returns the response and what the exchange needs."""
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": app_client.client_id,
        "redirect_uri": app_client.redirect_uris[0],
        "scope": "openid email",
        "state": "st4te",
        "nonce": "n0nce",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    return browser.get("/authorize", query_string=query), verifier


def follow(browser, response):
    return browser.get(response.headers["Location"])


def code_of(response, app_client):
    location = response.headers["Location"]
    assert location.startswith(app_client.redirect_uris[0]), location
    return dict(parse_qsl(urlsplit(location).query))["code"]


def tx_of(response):
    return dict(parse_qsl(urlsplit(response.headers["Location"]).query))["tx"]


def with_authenticator(user):
    """Set up two-step verification for ``user``; its recovery codes."""
    enrollment = mfa.start_enrollment(user, "Acme")
    codes = mfa.confirm_enrollment(user, pyotp.TOTP(enrollment.secret).now())
    session.commit()
    assert codes
    return codes


def tokens_for(browser, app_client, secret, code, verifier):
    answer = exchange_code(
        browser,
        app_client,
        {"code": code, "redirect_uri": app_client.redirect_uris[0], "verifier": verifier},
        secret,
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return decode_jwt(browser, answer.get_json()["id_token"])


@pytest.fixture
def partner(tenant, make_connection):
    """A user of the upstream IdP's connection, with an authenticator set up at Foyer."""
    connection = make_connection("partner-idp", "test-idp")
    user = create_user(connection, email="rita@partner.test")
    session.commit()
    return user, with_authenticator(user)


def upstream_sign_in(browser, app_client, user):
    """``/authorize`` naming the IdP's connection, then the IdP's callback."""
    started, verifier = start(browser, app_client, connection="partner-idp")
    to_idp = follow(browser, started)
    assert to_idp.headers["Location"].startswith("https://idp.test/authorize")
    state = dict(parse_qsl(urlsplit(to_idp.headers["Location"]).query))["state"]
    return browser.get(
        "/test-idp/callback", query_string={"state": state, "user": user.id}
    ), verifier


# --- A rule may require two-step verification where the connection would not ask -----------


def test_an_upstream_sign_in_asks_no_code_by_itself(client, oidc_client, partner):
    app_client, _secret = oidc_client
    user, _codes = partner
    answered, _verifier = upstream_sign_in(client, app_client, user)
    assert answered.status_code == 303
    assert answered.headers["Location"].startswith(app_client.redirect_uris[0])


def test_a_rule_requiring_mfa_forces_the_code_page(
    client, oidc_client, partner, register_plugin, recorded_events
):
    app_client, secret = oidc_client
    user, codes = partner
    register_plugin(Rules(require_mfa))
    answered, verifier = upstream_sign_in(client, app_client, user)
    assert answered.status_code == 303 and "/login/mfa?tx=" in answered.headers["Location"]
    assert not recorded_events("login_succeeded")
    page = follow(client, answered)
    assert page.status_code == 200
    done = submit_form(client, page, "mfa-form", code=codes[0])
    assert done.status_code == 303 and done.headers["Location"].startswith(
        app_client.redirect_uris[0]
    )
    claims = tokens_for(client, app_client, secret, code_of(done, app_client), verifier)
    assert claims["sub"] == user.id
    assert "mfa" in claims["amr"]
    [succeeded] = recorded_events("login_succeeded")
    assert succeeded.data["amr"] == ["pwd", "otp", "mfa"]


def test_a_rule_requiring_mfa_of_a_user_without_authenticator_sets_one_up_first(
    client, oidc_client, user, register_plugin, recorded_events
):
    register_plugin(Rules(require_mfa))
    answered = login(client, "alice@example.com", USER_PASSWORD)
    assert answered.status_code == 303
    assert answered.headers["Location"].startswith("/login/mfa/setup?tx=")
    assert not recorded_events("login_denied")


# --- The rules run for SSO sign-ins too -----------------------------------------------------


def test_a_denying_rule_stops_an_sso_sign_in_into_the_same_organization(
    foyer_app, client, oidc_client, user, organization, register_plugin, recorded_events
):
    app_client, _secret = oidc_client
    add_member(organization, user)
    session.commit()
    sign_in(client, user, organization=organization)
    allowed, _verifier = start(client, app_client, organization="globex")
    assert code_of(allowed, app_client)
    register_plugin(
        Rules(lambda context: LoginDecision("closed", "Globex is closed for the night."))
    )
    refused, _verifier = start(client, app_client, organization="globex")
    assert refused.status_code == 403
    assert "Globex is closed for the night." in refused.get_data(as_text=True)
    [denied] = recorded_events("login_denied")
    assert (denied.data["code"], denied.organization_id) == ("closed", organization.id)
    browser = host_client(foyer_app)
    started, _verifier = start(browser, app_client, organization="globex")
    fresh = login(browser, "alice@example.com", USER_PASSWORD, tx=tx_of(started))
    assert fresh.status_code == 403  # the same page as a fresh sign-in's
    assert "Globex is closed for the night." in fresh.get_data(as_text=True)


def test_a_rule_may_require_mfa_of_an_sso_session(client, oidc_client, user, register_plugin):
    app_client, secret = oidc_client
    codes = with_authenticator(user)
    sign_in(client, user, amr=["pwd"])
    register_plugin(Rules(require_mfa))
    silent, _verifier = start(client, app_client, prompt="none")
    assert dict(parse_qsl(urlsplit(silent.headers["Location"]).query))["error"] == (
        "interaction_required"
    )
    asked, verifier = start(client, app_client)
    assert "/login/mfa?tx=" in asked.headers["Location"]
    done = submit_form(client, follow(client, asked), "mfa-form", code=codes[0])
    claims = tokens_for(client, app_client, secret, code_of(done, app_client), verifier)
    assert "mfa" in claims["amr"]
    again, _verifier = start(client, app_client)  # the session now has it
    assert code_of(again, app_client)


# --- A plugin's own step --------------------------------------------------------------------


def test_a_plugin_step_round_trip(client, oidc_client, user, register_plugin, recorded_events):
    app_client, secret = oidc_client
    register_plugin(Rules(require_terms))
    started, verifier = start(client, app_client)
    answered = login(client, "alice@example.com", USER_PASSWORD, tx=tx_of(started))
    assert answered.status_code == 303 and "/terms?tx=" in answered.headers["Location"]
    assert not recorded_events("login_succeeded")
    page = follow(client, answered)
    assert "Terms for alice@example.com" in page.get_data(as_text=True)
    accepted = submit_form(client, page, "terms-form")
    assert accepted.status_code == 303 and accepted.headers["Location"].startswith(
        app_client.redirect_uris[0]
    )
    claims = tokens_for(client, app_client, secret, code_of(accepted, app_client), verifier)
    assert claims["sub"] == user.id
    replayed = submit_form(client, page, "terms-form")  # the sign-in no longer waits for it
    assert replayed.status_code == 400


def test_a_step_page_of_another_sign_in_is_refused(client, user, register_plugin, make_login_tx):
    register_plugin(Rules(require_terms))
    tx = make_login_tx()
    page = client.get(f"/terms?tx={tx}")
    assert submit_form(client, page, "terms-form").status_code == 400


# --- The order of the steps -----------------------------------------------------------------


def test_the_steps_come_in_order(client, make_client, user, register_plugin, recorded_events):
    app_client, secret = make_client("Partner app", settings={"require_consent": True})
    codes = with_authenticator(user)
    rules = register_plugin(Rules(require_terms))
    started, verifier = start(client, app_client)
    after_password = login(client, "alice@example.com", USER_PASSWORD, tx=tx_of(started))
    assert "/login/mfa?tx=" in after_password.headers["Location"]  # 2. the code
    assert rules.seen == []  # the rules come after two-step verification
    after_code = submit_form(client, follow(client, after_password), "mfa-form", code=codes[0])
    assert "/terms?tx=" in after_code.headers["Location"]  # 3. the rules require a step
    assert rules.seen == [(("authenticate", "mfa"), ("pwd", "otp", "mfa"))]
    after_terms = submit_form(client, follow(client, after_code), "terms-form")
    assert rules.seen[-1] == (("authenticate", "mfa", "terms"), ("pwd", "otp", "mfa"))
    assert recorded_events("login_succeeded")  # 4. the session
    assert "/consent?tx=" in after_terms.headers["Location"]  # 5. consent, then the code
    allowed = submit_form(client, follow(client, after_terms), "consent-form", decision="allow")
    claims = tokens_for(client, app_client, secret, code_of(allowed, app_client), verifier)
    assert claims["amr"] == ["pwd", "otp", "mfa"]
