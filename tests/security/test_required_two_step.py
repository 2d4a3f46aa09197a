"""Required two-step verification: per tenant, organization or application, asked for by an
application with ``acr_values``, and by a ``check_login`` rule.

A user without an authenticator is taken through setting one up at that sign-in (the
account pages' set-up page, then their recovery codes), which cannot be skipped; a user
with one is asked for its code; an SSO session without two-step verification does not
answer for an application that requires it. ``amr`` and ``acr`` say what happened.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pyotp
import pytest

from app import hookimpl
from app.accounts import mfa
from app.clients.services import find_client
from app.configfile.apply import apply_spec
from app.configfile.source import read_source
from app.configfile.spec import read_spec
from app.db import session
from app.login.assurance import ACR_MULTI_FACTOR
from app.login.rules import MFA
from app.login.rules import LoginDecision
from app.orgs.services import add_member
from app.orgs.services import find_organization
from app.testing import USER_PASSWORD
from app.testing import decode_jwt
from app.testing import exchange_code
from app.testing import host_client
from app.testing import login
from app.testing import pkce_pair
from app.testing import sign_in
from app.testing import submit_form
from app.testing import token_request

SCOPE = "openid profile email offline_access"


def text(response):
    return response.get_data(as_text=True)


def start(browser, client, **params):
    """``/authorize`` for ``client``; the answer and the PKCE verifier."""
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uris[0],
        "scope": SCOPE,
        "state": "st",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    return browser.get("/authorize", query_string=query), verifier


def tx_of(response):
    return dict(parse_qsl(urlsplit(response.headers["Location"]).query))["tx"]


def code_of(response, client):
    location = response.headers["Location"]
    assert location.startswith(client.redirect_uris[0]), location
    return dict(parse_qsl(urlsplit(location).query))


def finish(browser, client, secret, response, verifier):
    """From the 303 to the application: the code, then the tokens and the ID token."""
    got = code_of(response, client)
    tokens = exchange_code(
        browser,
        client,
        {"code": got["code"], "redirect_uri": client.redirect_uris[0], "verifier": verifier},
        secret,
    ).get_json()
    return tokens, decode_jwt(browser, tokens["id_token"])


def set_up_authenticator(browser, response):
    """Go through the set-up page a sign-in sent the browser to; the codes page's answer."""
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login/mfa/setup?tx=")
    page = browser.get(response.headers["Location"])
    assert page.status_code == 200
    secret = re.search(r'id="totp-secret"[^>]*>([^<]+)<', text(page)).group(1).replace(" ", "")
    done = submit_form(browser, page, "mfa-setup-form", code=pyotp.TOTP(secret).now())
    assert done.status_code == 303
    assert done.headers["Location"].startswith("/login/mfa/recovery-codes?tx=")
    codes = browser.get(done.headers["Location"])
    assert codes.status_code == 200
    assert text(codes).count("<li><code>") == mfa.RECOVERY_CODES
    return codes


def require_for_tenant(tenant):
    tenant.settings = {**(tenant.settings or {}), "require_two_step": True}
    session.commit()


def test_a_tenant_requirement_takes_a_user_without_authenticator_through_set_up(
    client, tenant, user, oidc_client, recorded_events
):
    app_client, secret = oidc_client
    require_for_tenant(tenant)
    answer, verifier = start(client, app_client)
    after_password = login(client, user.email, USER_PASSWORD, tx=tx_of(answer))
    setup_page = client.get(after_password.headers["Location"])
    body = text(setup_page)
    assert 'id="mfa-required"' in body
    assert 'id="current_password"' not in body  # the user has just typed it
    assert 'id="cancel"' not in body  # no way around it
    codes = set_up_authenticator(client, after_password)
    assert mfa.has_totp(user)
    went_on = submit_form(client, codes, "mfa-continue-form")
    assert went_on.status_code == 303
    assert went_on.headers["Location"].startswith(app_client.redirect_uris[0])
    _tokens, claims = finish(client, app_client, secret, went_on, verifier)
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == "2"
    [enrolled] = recorded_events("mfa_enrolled")
    assert enrolled.data == {"factor": "totp", "at_sign_in": True}


def test_the_set_up_cannot_be_skipped(client, tenant, user, oidc_client):
    app_client, _secret = oidc_client
    require_for_tenant(tenant)
    answer, _verifier = start(client, app_client)
    tx = tx_of(answer)
    login(client, user.email, USER_PASSWORD, tx=tx)
    assert client.get(f"/authorize/resume?tx={tx}").status_code == 400  # not finished
    assert client.get(f"/login/mfa/recovery-codes?tx={tx}").status_code == 400
    skipped = client.post(f"/login/mfa/recovery-codes?tx={tx}", data={})
    assert skipped.status_code == 400
    assert client.get("/account").status_code == 302  # no session was started


def test_the_set_up_page_is_not_another_browsers(foyer_app, client, tenant, user, oidc_client):
    app_client, _secret = oidc_client
    require_for_tenant(tenant)
    answer, _verifier = start(client, app_client)
    after_password = login(client, user.email, USER_PASSWORD, tx=tx_of(answer))
    other = host_client(foyer_app)  # someone who learned the address
    assert other.get(after_password.headers["Location"]).status_code == 400
    assert not mfa.has_totp(user)


def test_a_user_with_an_authenticator_is_asked_for_its_code(
    client, tenant, user, make_client, make_connection
):
    require_for_tenant(tenant)
    app_client, secret = make_client(name="Portal")
    enrollment = mfa.start_enrollment(user, "Acme")
    step = pyotp.TOTP(enrollment.secret)
    mfa.confirm_enrollment(user, step.at(time.time() - 30))
    session.commit()
    answer, verifier = start(client, app_client)
    asked = login(client, user.email, USER_PASSWORD, tx=tx_of(answer))
    assert asked.headers["Location"].startswith("/login/mfa?tx=")
    page = client.get(asked.headers["Location"])
    done = submit_form(client, page, "mfa-form", code=step.now())
    _tokens, claims = finish(client, app_client, secret, done, verifier)
    assert claims["acr"] == "2"


def test_an_organization_requirement_applies_to_its_sign_ins_only(
    client, user, make_organization, oidc_client
):
    app_client, secret = oidc_client
    strict = make_organization("globex", require_two_step=True)
    lenient = make_organization("initech")
    add_member(strict, user)
    add_member(lenient, user)
    session.commit()
    plain, verifier = start(client, app_client, organization="initech")
    done = login(client, user.email, USER_PASSWORD, tx=tx_of(plain))
    _tokens, claims = finish(client, app_client, secret, done, verifier)
    assert claims["acr"] == "1" and claims["amr"] == ["pwd"]

    other = host_client(client.application)
    answer, _verifier = start(other, app_client, organization="globex")
    asked = login(other, user.email, USER_PASSWORD, tx=tx_of(answer))
    assert asked.headers["Location"].startswith("/login/mfa/setup?tx=")


def test_an_application_requirement_applies_to_it_only(client, user, make_client):
    strict, strict_secret = make_client(name="Payroll", settings={"require_two_step": True})
    lenient, lenient_secret = make_client(name="Wiki")
    answer, verifier = start(client, lenient)
    done = login(client, user.email, USER_PASSWORD, tx=tx_of(answer))
    _tokens, claims = finish(client, lenient, lenient_secret, done, verifier)
    assert claims["acr"] == "1"

    # the SSO session (one factor) does not answer for the strict application, and a second
    # factor is set up only after the first one was given again
    silent, _verifier = start(client, strict, prompt="none")
    assert code_of(silent, strict)["error"] == "interaction_required"
    answer, verifier = start(client, strict)
    assert answer.status_code == 303
    tx = tx_of(answer)
    assert answer.headers["Location"] == f"/login?tx={tx}"
    assert client.get(f"/login/mfa/setup?tx={tx}").status_code == 400
    again = login(client, user.email, USER_PASSWORD, tx=tx)
    went_on = submit_form(client, set_up_authenticator(client, again), "mfa-continue-form")
    _tokens, claims = finish(client, strict, strict_secret, went_on, verifier)
    assert claims["acr"] == "2"


@pytest.mark.parametrize(
    ("acr_values", "two_step", "acr"),
    [
        ("2", True, "2"),
        (ACR_MULTI_FACTOR, True, ACR_MULTI_FACTOR),
        (f"urn:unknown {ACR_MULTI_FACTOR}", True, ACR_MULTI_FACTOR),
        ("1 2", False, "1"),
        ("1", False, "1"),
        ("urn:unknown", False, "1"),
    ],
)
def test_an_application_asks_with_acr_values(client, user, oidc_client, acr_values, two_step, acr):
    app_client, secret = oidc_client
    answer, verifier = start(client, app_client, acr_values=acr_values)
    done = login(client, user.email, USER_PASSWORD, tx=tx_of(answer))
    if two_step:
        done = submit_form(client, set_up_authenticator(client, done), "mfa-continue-form")
    _tokens, claims = finish(client, app_client, secret, done, verifier)
    assert claims["acr"] == acr
    assert ("mfa" in claims["amr"]) is two_step


def test_a_login_rule_requirement_sets_up_an_authenticator_too(
    client, user, oidc_client, register_plugin
):
    class RequireMfa:
        @hookimpl
        def check_login(self, context):
            return None if MFA in context.amr else LoginDecision.require(MFA)

    register_plugin(RequireMfa(), name="require-mfa")
    app_client, secret = oidc_client
    answer, verifier = start(client, app_client)
    done = login(client, user.email, USER_PASSWORD, tx=tx_of(answer))
    went_on = submit_form(client, set_up_authenticator(client, done), "mfa-continue-form")
    _tokens, claims = finish(client, app_client, secret, went_on, verifier)
    assert claims["amr"] == ["pwd", "otp", "mfa"]


def test_an_sso_session_with_two_steps_answers_and_refresh_keeps_the_acr(client, user, make_client):
    strict, secret = make_client(name="Payroll", settings={"require_two_step": True})
    sign_in(client, user, amr=("pwd", "otp", "mfa"))
    answer, verifier = start(client, strict)
    got = code_of(answer, strict)
    tokens = exchange_code(
        client,
        strict,
        {"code": got["code"], "redirect_uri": strict.redirect_uris[0], "verifier": verifier},
        secret,
    ).get_json()
    assert decode_jwt(client, tokens["id_token"])["acr"] == "2"
    refreshed = token_request(
        client, strict, secret, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    ).get_json()
    assert decode_jwt(client, refreshed["id_token"])["acr"] == "2"


def test_discovery_lists_the_acr_values(client, tenant):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["acr_values_supported"] == ["1", "2", ACR_MULTI_FACTOR]


def test_the_set_up_page_is_translated(client, tenant, user, oidc_client):
    app_client, _secret = oidc_client
    require_for_tenant(tenant)
    answer, _verifier = start(client, app_client, ui_locales="fr")
    after_password = login(client, user.email, USER_PASSWORD, tx=tx_of(answer))
    page = text(client.get(after_password.headers["Location"]))
    assert 'lang="fr"' in page
    assert "La validation en deux étapes est requise" in page


def test_the_settings_come_from_the_config_file(foyer_app, tenant):

    text_ = """
version: 1
tenant: {name: acme, display_name: Acme, domains: [login.test], require_two_step: true}
connections: [{name: users}]
organizations:
  - {name: bank, display_name: Bank, connections: [users], require_two_step: true}
clients:
  - client_id: payroll
    name: Payroll
    secret: ${SECRET}
    redirect_uris: [https://payroll.test/cb]
    require_two_step: true
"""
    spec, reader = read_spec(read_source(text_, "tenant.yaml", {"SECRET": "s" * 40}))
    apply_spec(spec, reader)
    session.expire_all()
    assert tenant.settings["require_two_step"] is True
    assert find_organization(tenant, "bank").require_two_step is True
    assert find_client("payroll").settings["require_two_step"] is True
