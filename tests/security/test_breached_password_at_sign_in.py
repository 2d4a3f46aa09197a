"""A-08, second half: a sign-in with a right password that the policy now refuses (a common
password, one zxcvbn guesses quickly, the user's own address, or one a ``check_password``
rule such as an online breach corpus refuses) is detected, recorded, and the user must
choose a new password in a login step, after two-step verification, before going on."""

from __future__ import annotations

import time

import pyotp
import pytest

from app import hookimpl
from app.accounts import mfa
from app.accounts.services import create_user
from app.db import session
from app.security.passwords import hash_password
from app.security.passwords import verify_password
from app.testing import USER_PASSWORD
from app.testing import login
from app.testing import submit_form
from tests.security.test_required_two_step import finish
from tests.security.test_required_two_step import start
from tests.security.test_required_two_step import text
from tests.security.test_required_two_step import tx_of

COMMON = "123456789012"
STRONG = "vivid harbor lantern quietly 58"


@pytest.fixture
def weak_user(connection):
    """A user whose password was set before the policy refused it (stored as a hash)."""
    user = create_user(connection, email="wendy@example.com", password_hash=hash_password(COMMON))
    user.email_verified = True
    session.commit()
    return user


def test_a_common_password_must_be_changed_before_the_sign_in_goes_on(
    client, weak_user, oidc_client, recorded_events
):
    app_client, secret = oidc_client
    answer, verifier = start(client, app_client)
    tx = tx_of(answer)
    asked = login(client, weak_user.email, COMMON, tx=tx)
    assert asked.status_code == 303
    assert asked.headers["Location"].startswith("/login/password/change?tx=")
    [detected] = recorded_events("password_breach_detected")
    assert detected.user_id == weak_user.id and detected.data["reason"] == "refused"
    assert COMMON not in str(detected.data)
    # nothing is finished before the change: no code, no session
    assert client.get(f"/authorize/resume?tx={tx}").status_code == 400
    assert client.get("/account").status_code == 302
    page = client.get(asked.headers["Location"])
    assert page.status_code == 200
    assert 'id="password-change-form"' in text(page)
    refused = submit_form(client, page, "password-change-form", new_password="passwordpassword")
    assert refused.status_code == 400  # the new one meets the policy too
    done = submit_form(client, page, "password-change-form", new_password=STRONG)
    assert done.status_code == 303
    _tokens, claims = finish(client, app_client, secret, done, verifier)
    assert claims["sub"] == weak_user.id
    session.refresh(weak_user)
    assert verify_password(weak_user.password_hash, STRONG)[0]
    [changed] = recorded_events("password_changed")
    assert changed.data["how"] == "sign_in"


def test_the_users_own_address_as_password_is_caught_too(client, connection, oidc_client):
    user = create_user(
        connection,
        email="kim.lee@example.com",
        password_hash=hash_password("kim.lee@example.com"),
    )
    session.commit()
    app_client, _secret = oidc_client
    answer, _verifier = start(client, app_client)
    asked = login(client, user.email, "kim.lee@example.com", tx=tx_of(answer))
    assert asked.headers["Location"].startswith("/login/password/change?tx=")


def test_a_strong_password_signs_in_as_before(client, user, oidc_client, recorded_events):
    app_client, secret = oidc_client
    answer, verifier = start(client, app_client)
    done = login(client, user.email, USER_PASSWORD, tx=tx_of(answer))
    assert done.headers["Location"].startswith(app_client.redirect_uris[0])
    finish(client, app_client, secret, done, verifier)
    assert recorded_events("password_breach_detected") == []


def test_a_check_password_rule_flags_a_breached_password(
    client, user, oidc_client, register_plugin, recorded_events
):
    class BreachCorpus:
        @hookimpl
        def check_password(self, password):
            return "known from a breach" if password == USER_PASSWORD else None

    register_plugin(BreachCorpus())
    app_client, _secret = oidc_client
    answer, _verifier = start(client, app_client)
    asked = login(client, user.email, USER_PASSWORD, tx=tx_of(answer))
    assert asked.headers["Location"].startswith("/login/password/change?tx=")
    assert len(recorded_events("password_breach_detected")) == 1


def test_two_step_verification_comes_first(client, weak_user, oidc_client):
    enrollment = mfa.start_enrollment(weak_user, "Acme")
    totp = pyotp.TOTP(enrollment.secret)
    mfa.confirm_enrollment(weak_user, totp.at(time.time() - 30))
    session.commit()
    app_client, _secret = oidc_client
    answer, _verifier = start(client, app_client)
    tx = tx_of(answer)
    asked = login(client, weak_user.email, COMMON, tx=tx)
    assert asked.headers["Location"].startswith("/login/mfa?tx=")
    # the password alone does not open the change page
    assert client.get(f"/login/password/change?tx={tx}").status_code == 400
    page = client.get(asked.headers["Location"])
    then = submit_form(client, page, "mfa-form", code=totp.now())
    assert then.headers["Location"].startswith("/login/password/change?tx=")


def test_the_page_belongs_to_its_sign_in_only(foyer_app, client, weak_user, oidc_client):
    from app.testing import host_client  # noqa: PLC0415 - one test needs a second browser

    app_client, _secret = oidc_client
    answer, _verifier = start(client, app_client)
    asked = login(client, weak_user.email, COMMON, tx=tx_of(answer))
    other = host_client(foyer_app)
    assert other.get(asked.headers["Location"]).status_code == 400


def test_the_tenant_may_turn_it_off(client, tenant, weak_user, oidc_client, recorded_events):
    tenant.settings = {**(tenant.settings or {}), "passwords": {"check_at_sign_in": False}}
    session.commit()
    app_client, _secret = oidc_client
    answer, _verifier = start(client, app_client)
    done = login(client, weak_user.email, COMMON, tx=tx_of(answer))
    assert done.headers["Location"].startswith(app_client.redirect_uris[0])
    assert recorded_events("password_breach_detected") == []


def test_the_step_page_is_translated(client, weak_user, oidc_client):
    app_client, _secret = oidc_client
    answer, _verifier = start(client, app_client, ui_locales="de")
    asked = login(client, weak_user.email, COMMON, tx=tx_of(answer))
    page = client.get(asked.headers["Location"])
    assert 'lang="de"' in text(page)
    assert "Choose a new password" not in text(page)
