"""Account flows in a real browser, with the emails read from a real SMTP server: password
reset, change password, sign-up, invitation acceptance, two-step verification set-up and
sign-in.

Each scenario keeps a screenshot of every page it passes under
``e2e-artifacts/account-pages/`` and scans it with axe-core (no serious or critical
violation). Scenarios that read email run only against the local deployment (its
mailbox); against ``--base-url`` they are skipped.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import typing as t

import pyotp
import pytest
from playwright.sync_api import expect

from e2e.conftest import ROOT
from e2e.mailbox import code_in
from e2e.mailbox import link_in
from e2e.mailbox import text_of
from e2e.pages import Visit

FOLDER = "account-pages"
NEW_PASSWORD = "a completely new e2e passphrase"


def needs_mailbox(deployment: t.Any) -> t.Any:
    if deployment.mailbox is None:
        pytest.skip("reading emails needs the local deployment's mailbox")
    return deployment.mailbox


def user(deployment: t.Any, key: str) -> dict[str, str]:
    users = deployment.accounts["users"]
    if key not in users:
        pytest.skip(f"the accounts file has no {key!r} user")
    return t.cast(dict[str, str], users[key])


def sign_in(page: t.Any, base_url: str, email: str, password: str, path: str = "") -> None:
    page.goto(f"{base_url}{path}/login")
    page.locator("#identifier").fill(email)
    page.locator("#submit").click()
    page.locator("#password").fill(password)
    page.locator("#submit").click()


def sign_out(page: t.Any, base_url: str) -> None:
    page.goto(f"{base_url}/logout")
    page.locator("#logout-form #submit").click()
    expect(page.locator("#page-title")).to_be_visible()


def test_password_reset_by_email(page, deployment):
    mailbox = needs_mailbox(deployment)
    robin = user(deployment, "resetter")
    visit = Visit(page, "reset", FOLDER)
    page.goto(f"{deployment.base_url}/login")
    page.locator("#identifier").fill(robin["email"])
    page.locator("#submit").click()
    page.locator("#forgot-password").click()
    expect(page.locator("#email")).to_have_value(robin["email"])  # carried from page 1
    visit("request")
    page.locator("#reset-request-form #submit").click()
    expect(page.locator("#page-title")).to_have_text("Check your email")
    visit("sent")
    message = mailbox.wait_for(robin["email"], "Reset your")
    link = link_in(message)
    assert link.startswith(deployment.base_url + "/password/reset/new?token=")
    page.goto(link)
    expect(page.locator("#new_password")).to_have_attribute("autocomplete", "new-password")
    visit("form")
    page.locator("#new_password").fill("short")
    page.locator("#reset-password-form #submit").click()
    expect(page.locator("#new_password-error")).to_be_visible()
    visit("form-error")
    page.locator("#new_password").fill(NEW_PASSWORD)
    page.locator("#reset-password-form #submit").click()
    expect(page.locator("#page-title")).to_have_text("Your password was changed")
    visit("done")
    page.goto(link)  # the link worked once
    expect(page.locator("#page-title")).to_have_text("This link no longer works")
    visit("link-used")
    notice = mailbox.wait_for(robin["email"], "password was changed")
    assert "was just changed" in text_of(notice)
    sign_in(page, deployment.base_url, robin["email"], NEW_PASSWORD)
    expect(page.locator("#signed-in-as")).to_contain_text(robin["email"])
    assert visit.problems == []


def test_change_password(page, deployment):
    mailbox = needs_mailbox(deployment)
    charlie = user(deployment, "changer")
    visit = Visit(page, "change", FOLDER)
    sign_in(page, deployment.base_url, charlie["email"], charlie["password"])
    page.goto(f"{deployment.base_url}/account")
    expect(page.locator("#account-email")).to_contain_text(charlie["email"])
    visit("account")
    page.locator("#change-password").click()
    expect(page.locator("#current_password")).to_have_attribute("autocomplete", "current-password")
    visit("form")
    page.locator("#current_password").fill("not my password at all")
    page.locator("#new_password").fill(NEW_PASSWORD)
    page.locator("#change-password-form #submit").click()
    expect(page.locator("#current_password-error")).to_be_visible()
    visit("form-error")
    page.locator("#current_password").fill(charlie["password"])
    page.locator("#new_password").fill(NEW_PASSWORD)
    expect(page.locator("#sign_out_others")).to_be_checked()
    page.locator("#change-password-form #submit").click()
    expect(page.locator("#status-message")).to_be_visible()
    visit("changed")
    assert "was just changed" in text_of(mailbox.wait_for(charlie["email"], "password was changed"))
    sign_out(page, deployment.base_url)
    sign_in(page, deployment.base_url, charlie["email"], NEW_PASSWORD)
    expect(page.locator("#signed-in-as")).to_contain_text(charlie["email"])
    # put the account back as it was, so the scenario runs again on the same deployment
    page.goto(f"{deployment.base_url}/account/password")
    page.locator("#current_password").fill(NEW_PASSWORD)
    page.locator("#new_password").fill(charlie["password"])
    page.locator("#change-password-form #submit").click()
    expect(page.locator("#status-message")).to_be_visible()
    assert visit.problems == []


def test_invitation_acceptance(page, deployment):
    mailbox = needs_mailbox(deployment)
    if deployment.env is None:
        pytest.skip("sending an invitation needs the foyer command of the local deployment")
    team = deployment.accounts["invitations"]
    invitee = "new.colleague@e2e.test"
    sent = subprocess.run(
        [
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "orgs",
            "invite",
            "--tenant",
            team["tenant"],
            "--org",
            team["organization"],
            "--email",
            invitee,
            "--roles",
            "member",
            "--invited-by",
            "Olivia Owner",
        ],
        env=deployment.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert sent.returncode == 0, sent.stderr
    visit = Visit(page, "invitation", FOLDER)
    message = mailbox.wait_for(invitee, team["display_name"])
    assert "Olivia Owner" in text_of(message)
    link = link_in(message)
    assert link.startswith(f"{deployment.base_url}/o/{team['organization']}/invitation?token=")
    page.goto(link)
    expect(page.locator("#page-title")).to_contain_text(team["display_name"])
    expect(page.locator("#invited-email")).to_have_text(invitee)
    visit("accept")
    page.locator("#name").fill("New Colleague")
    page.locator("#new_password").fill(NEW_PASSWORD)
    page.locator("#accept-invitation-form #submit").click()
    expect(page.locator("#page-title")).to_contain_text(team["display_name"])
    visit("welcome")
    page.locator("#sign-in").click()
    page.locator("#identifier").fill(invitee)
    page.locator("#submit").click()
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("#submit").click()
    expect(page.locator("#signed-in-as")).to_contain_text(invitee)
    page.goto(link)  # accepted: the link is spent
    expect(page.locator("#page-title")).to_have_text("This link no longer works")
    assert visit.problems == []


def test_two_step_verification_setup_and_sign_in(page, deployment):
    morgan = user(deployment, "mfa")
    visit = Visit(page, "mfa", FOLDER)
    sign_in(page, deployment.base_url, morgan["email"], morgan["password"])
    page.goto(f"{deployment.base_url}/account/mfa")
    expect(page.locator("#totp-qr")).to_be_visible()
    visit("setup")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.locator("#code").fill(totp.now())
    page.locator("#current_password").fill(morgan["password"])
    page.locator("#mfa-setup-form #submit").click()
    codes = page.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    recovery = codes.first.inner_text().strip()
    assert re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}", recovery)
    visit("recovery-codes")
    page.locator("#done").click()
    expect(page.locator("#mfa-status")).to_have_text("On")
    sign_out(page, deployment.base_url)
    sign_in(page, deployment.base_url, morgan["email"], morgan["password"])
    expect(page.locator("#code")).to_have_attribute("autocomplete", "one-time-code")
    visit("challenge")
    page.locator("#code").fill("000000" if totp.now() != "000000" else "111111")
    page.locator("#mfa-form #submit").click()
    expect(page.get_by_role("alert")).to_be_visible()
    visit("challenge-error")
    # the code of the next 30-second step (the enrollment used this step's code)
    page.locator("#code").fill(totp.at(time.time() + totp.interval))
    page.locator("#mfa-form #submit").click()
    expect(page.locator("#signed-in-as")).to_contain_text(morgan["email"])
    sign_out(page, deployment.base_url)
    sign_in(page, deployment.base_url, morgan["email"], morgan["password"])
    page.locator("#code").fill(recovery)
    page.locator("#mfa-form #submit").click()
    expect(page.locator("#signed-in-as")).to_contain_text(morgan["email"])
    # turn it off again (the password is asked), leaving the account as it was
    page.goto(f"{deployment.base_url}/account/mfa")
    visit("settings")
    page.locator("#mfa-settings-form #current_password").fill(morgan["password"])
    page.locator("#disable-mfa").click()
    expect(page.locator("#mfa-status")).to_have_text("Off")
    assert visit.problems == []


def test_sign_up_with_the_emailed_code(page, deployment):
    mailbox = needs_mailbox(deployment)
    community = deployment.accounts.get("signup")
    if not community:
        pytest.skip("the accounts file names no organization open to sign-up")
    base = f"{deployment.base_url}/o/{community['organization']}"
    visit = Visit(page, "signup", FOLDER)
    page.goto(f"{base}/login")
    page.locator("#signup-link").click()
    expect(page.locator("#page-title")).to_have_text("Create your account")
    visit("form")
    page.locator("#email").fill("newcomer@e2e.test")
    page.locator("#name").fill("Nia Newcomer")
    page.locator("#password").fill("passwordpassword")
    page.locator("#signup-form #submit").click()
    expect(page.locator("#password-error")).to_contain_text("Repeated words")
    visit("weak-password")
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("#signup-form #submit").click()
    expect(page.locator("#page-title")).to_have_text("Enter the code we emailed you")
    expect(page.locator("#code")).to_have_attribute("autocomplete", "one-time-code")
    visit("code")
    code = code_in(mailbox.wait_for("newcomer@e2e.test", "Your code"))
    page.locator("#code").fill("0000 0000" if code != "0000 0000" else "1111 1111")
    page.locator("#signup-code-form #submit").click()
    expect(page.locator("#code-error")).to_be_visible()
    visit("code-wrong")
    page.locator("#code").fill(code)
    page.locator("#signup-code-form #submit").click()
    # the code ends the sign-up and the sign-in it started from: signed in, no second form
    expect(page.locator("#signed-in-as")).to_contain_text("newcomer@e2e.test")
    visit("created")
    sign_out(page, deployment.base_url)
    # the same address again: the same answer, and its owner is told
    page.goto(f"{base}/signup")
    page.locator("#email").fill("newcomer@e2e.test")
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("#signup-form #submit").click()
    expect(page.locator("#page-title")).to_have_text("Enter the code we emailed you")
    assert "already have one" in text_of(mailbox.wait_for("newcomer@e2e.test", "tried to"))
    assert visit.problems == []


def test_third_party_application_asks_for_consent(page, deployment):
    from e2e.rp import RelyingParty

    partner = deployment.accounts.get("partner")
    if not partner:
        pytest.skip("the accounts file names no third-party client")
    alice = user(deployment, "alice")
    visit = Visit(page, "consent", FOLDER)
    rp = RelyingParty(deployment.base_url, partner)
    rp.catch_redirects(page)
    page.goto(rp.authorization_url())
    page.locator("#identifier").fill(alice["email"])
    page.locator("#submit").click()
    page.locator("#password").fill(alice["password"])
    page.locator("#submit").click()
    expect(page.locator("#consent-scopes li")).to_have_count(4)
    expect(page.locator("#page-title")).to_contain_text("Partner analytics")
    visit("ask")
    page.locator("#deny").click()
    rp.wait_until_back(page)
    assert rp.callback_params()["error"] == "access_denied"
    rp = RelyingParty(deployment.base_url, partner)
    rp.catch_redirects(page)
    page.goto(rp.authorization_url())
    page.locator("#allow").click()
    rp.wait_until_back(page)
    assert "id_token" in rp.exchange()
    rp = RelyingParty(deployment.base_url, partner)  # remembered: no question this time
    rp.catch_redirects(page)
    page.goto(rp.authorization_url())
    rp.wait_until_back(page)
    assert "code" in rp.callback_params()
    assert visit.problems == []
