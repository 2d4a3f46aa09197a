"""Every page that checks a password again counts on the sign-in's per-account protection.

Changing the password, the two-step settings, the sessions page, a verification link opened
in another browser and an invitation for someone who already has an account each check the
account's password. They share the sign-in's counters (per account and address, and per
account across addresses), so none of them is a way around the figures: ten wrong passwords
on any mix of them block the pair, the right one then fails like a wrong one, and a sprayed
account waits. Two-step codes are counted per account whatever the address. Checked with a
clock the test moves, on the database and on Redis.
"""

from __future__ import annotations

import re

import pyotp
import pytest

from app.accounts import mfa
from app.accounts import tokens
from app.accounts.protection import Figures
from app.db import session
from app.orgs import invitations
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login
from app.testing import read_form
from app.testing import sign_in
from app.testing import submit_form
from tests.accounts.conftest import path_of

WRONG = "a wrong password, again"
DEFAULTS = Figures()


@pytest.fixture
def foyer_config(foyer_config):
    return {**foyer_config, "rate_limit_login": "1000 per minute"}


def browser_at(app, ip: str):
    browser = host_client(app)
    browser.environ_base["REMOTE_ADDR"] = ip
    return browser


def change_password(browser, current: str):
    page = browser.get("/account/password")
    return submit_form(
        browser,
        page,
        "change-password-form",
        current_password=current,
        new_password="a brand new passphrase of mine",
        confirm_password="a brand new passphrase of mine",
    )


def end_other_sessions(browser, current: str):
    page = browser.get("/account/sessions")
    return submit_form(browser, page, "sessions-form", current_password=current, session="others")


def mfa_settings(browser, current: str, action: str):
    """POST the two-step settings form to ``/account/mfa/<action>``."""
    form = read_form(browser.get("/account/mfa").get_data(as_text=True), "mfa-settings-form")
    return browser.post(f"/account/mfa/{action}", data={**form.fields, "current_password": current})


def verify_link(user) -> str:
    issued = tokens.issue(
        tokens.EMAIL_VERIFICATION,
        tenant_id=user.tenant_id,
        user=user,
        data={"email": user.email_normalized},
    )
    session.commit()
    return f"/email/verify?token={issued.value}"


def verify_email(browser, link: str, password: str):
    return submit_form(browser, browser.get(link), "verify-email-form", password=password)


@pytest.fixture
def shared_invitation(connection, make_organization, outbox):
    """An invitation for alice@example.com, who has an account in the organization's pool."""
    make_organization("globex", "Globex", connections=[connection])
    umbrella = make_organization("umbrella", "Umbrella", connections=[connection])
    sent = invitations.invite(umbrella, "alice@example.com", ["member"], invited_by="Olivia")
    assert sent.delivered
    return path_of(sent.link)


def accept(browser, link: str, password: str):
    return submit_form(browser, browser.get(link), "accept-invitation-form", password=password)


def test_change_password_blocks_the_pair_after_ten_wrong_current_passwords(
    backend, clock, foyer_app, user, recorded_events, mails
):
    assert DEFAULTS.max_failed_logins == 10
    browser = browser_at(foyer_app, "198.51.100.7")
    sign_in(browser, user)
    for _ in range(10):
        assert change_password(browser, WRONG).status_code == 400
    assert len(recorded_events("login_pair_blocked")) == 1
    right = change_password(browser, USER_PASSWORD)
    assert right.status_code == 400  # the right password now fails like a wrong one
    assert "This is not your current password." in right.get_data(as_text=True)
    # the same pair signs in no more either: one budget for every password check
    assert (
        login(browser_at(foyer_app, "198.51.100.7"), user.email, USER_PASSWORD).status_code == 400
    )
    assert (
        login(browser_at(foyer_app, "198.51.100.8"), user.email, USER_PASSWORD).status_code == 303
    )
    assert [m.purpose for m in mails()] == ["login_blocked"]  # the unblock link


def test_invitation_acceptance_blocks_the_pair_after_ten_wrong_passwords(
    backend, clock, foyer_app, user, shared_invitation, recorded_events
):
    browser = browser_at(foyer_app, "198.51.100.9")
    for _ in range(10):
        assert accept(browser, shared_invitation, WRONG).status_code == 400
    assert len(recorded_events("login_pair_blocked")) == 1
    assert accept(browser, shared_invitation, USER_PASSWORD).status_code == 400
    assert (
        accept(browser_at(foyer_app, "198.51.100.10"), shared_invitation, USER_PASSWORD).status_code
        == 303
    )


def test_sign_in_and_every_password_page_share_one_budget(
    backend, clock, foyer_app, user, shared_invitation, recorded_events
):
    """Two wrong passwords on each of five pages make ten: the pair is blocked."""
    browser = browser_at(foyer_app, "198.51.100.11")
    mfa.start_enrollment(user, "Foyer")
    session.commit()
    for _ in range(2):
        assert login(browser, user.email, WRONG).status_code == 400
    sign_in(browser, user)
    for _ in range(2):
        assert change_password(browser, WRONG).status_code == 400
        assert end_other_sessions(browser, WRONG).status_code == 400
    stranger = browser_at(foyer_app, "198.51.100.11")  # same address, signed out
    link = verify_link(user)
    for _ in range(2):
        assert verify_email(stranger, link, WRONG).status_code == 400
    assert accept(stranger, shared_invitation, WRONG).status_code == 400
    assert not recorded_events("login_pair_blocked")
    assert accept(stranger, shared_invitation, WRONG).status_code == 400
    assert len(recorded_events("login_pair_blocked")) == 1
    assert verify_email(stranger, link, USER_PASSWORD).status_code == 400
    assert end_other_sessions(browser, USER_PASSWORD).status_code == 400


def test_the_two_step_settings_count_too(backend, clock, foyer_app, user, recorded_events):
    browser = browser_at(foyer_app, "198.51.100.12")
    sign_in(browser, user)
    page = browser.get("/account/mfa/setup")
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', page.get_data(as_text=True))
    totp = pyotp.TOTP(secret.group(1).replace(" ", ""))
    for _ in range(4):  # the set-up asks for the password too
        wrong = submit_form(
            browser, page, "mfa-setup-form", code=totp.now(), current_password=WRONG
        )
        assert wrong.status_code == 400
    done = submit_form(
        browser, page, "mfa-setup-form", code=totp.now(), current_password=USER_PASSWORD
    )
    assert done.status_code == 303  # a right password starts the run again
    for _ in range(5):
        assert mfa_settings(browser, WRONG, "disable").status_code == 400
        assert mfa_settings(browser, WRONG, "recovery-codes/new").status_code == 400
    assert len(recorded_events("login_pair_blocked")) == 1
    assert mfa_settings(browser, USER_PASSWORD, "disable").status_code == 400
    assert mfa.has_totp(user)


def test_a_sprayed_account_waits_on_the_invitation_page_too(
    backend, clock, foyer_app, user, shared_invitation, recorded_events
):
    """30 wrong passwords from 30 addresses: the next attempt, from anywhere, must wait."""
    assert DEFAULTS.delay_after == 30
    for number in range(30):
        browser = browser_at(foyer_app, f"203.0.113.{number + 1}")
        assert accept(browser, shared_invitation, WRONG).status_code == 400
    fresh = browser_at(foyer_app, "203.0.113.200")
    refused = accept(fresh, shared_invitation, USER_PASSWORD)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= DEFAULTS.first_delay_seconds
    assert recorded_events("password_check_refused")[0].data == {"reason": "account_delayed"}
    # the sign-in page answers the same: one count per account
    assert (
        login(browser_at(foyer_app, "203.0.113.201"), user.email, USER_PASSWORD).status_code == 429
    )
    clock.advance(DEFAULTS.first_delay_seconds + 1)
    assert accept(fresh, shared_invitation, USER_PASSWORD).status_code == 303


def test_two_step_codes_are_limited_per_account_from_any_address(foyer_app, client, user):
    """Code attempts count per account in the limits' shared storage (the database, or
    Redis when the app runs with it), whatever the address."""
    sign_in(client, user)
    page = client.get("/account/mfa/setup")
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', page.get_data(as_text=True))
    totp = pyotp.TOTP(secret.group(1).replace(" ", ""))
    assert (
        submit_form(
            client, page, "mfa-setup-form", code=totp.now(), current_password=USER_PASSWORD
        ).status_code
        == 303
    )
    foyer_app.extensions["foyer.settings"].rate_limit_mfa = "4 per hour"
    statuses = []
    for number in range(5):
        browser = browser_at(foyer_app, f"192.0.2.{number + 20}")
        step = login(browser, user.email, USER_PASSWORD)
        assert step.status_code == 303
        code_page = browser.get(step.headers["Location"])
        statuses.append(submit_form(browser, code_page, "mfa-form", code="000000").status_code)
    assert statuses == [400, 400, 400, 400, 429]  # four guesses per account, not per address
    browser = browser_at(foyer_app, "192.0.2.99")
    step = login(browser, user.email, USER_PASSWORD)
    code_page = browser.get(step.headers["Location"])
    assert submit_form(browser, code_page, "mfa-form", code=totp.now()).status_code == 429
