"""Sign-up must prove the mailbox belongs to the person signing up (#13, A-07, L-15).

The attack: someone signs up with another person's address and their own password; the
address's owner gets Foyer's email and, with one click, verifies it, handing the address
(and whatever the applications grant it) to the attacker. Now nothing exists until the
browser that signed up enters the code emailed to the address; the code does nothing in
any other browser, and the email tells the owner that ignoring it is safe. The emails are
read from a real SMTP server.
"""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from app.accounts import signup as signup_service
from app.accounts import tokens
from app.accounts.background import wait_for_background
from app.accounts.models import OneTimeToken
from app.accounts.models import User
from app.db import session
from app.db import utcnow
from app.mail.models import OutgoingMail
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login
from app.testing import sign_in
from app.testing import submit_form
from e2e.mailbox import code_in
from e2e.mailbox import link_in
from e2e.mailbox import text_of
from tests.security.conftest import enter_code
from tests.security.conftest import signup

ATTACKER_PASSWORD = "the attacker's own passphrase"
OWNER_PASSWORD = "the owner's own passphrase"


def users() -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(User)) or 0)


def test_signing_up_with_someone_elses_address_creates_nothing_they_can_confirm(
    foyer_app, client, open_signup, mailbox
):
    attacker, owner = client, host_client(foyer_app)
    assert signup(attacker, "victim@example.com", ATTACKER_PASSWORD).status_code == 303
    message = mailbox.wait_for("victim@example.com", "Your code")
    text = text_of(message)
    assert "someone else typed your address: ignore this email" in text
    assert "No account is created without this code" in text
    assert "Never give the code to anyone" in text
    assert not re.search(r"https?://\S*(token|code)=", text)  # nothing to click
    assert users() == 0
    # the owner, curious, opens the sign-up pages and types the code: nothing happens
    assert enter_code(owner, code_in(message)).status_code == 400
    assert users() == 0
    # the attacker, without the code, gets nowhere
    for guess in ("0000 0000", "1234 5678"):
        assert enter_code(attacker, guess).status_code == 400
    assert users() == 0
    # the address is not squatted: its owner signs up and gets it
    assert signup(owner, "victim@example.com", OWNER_PASSWORD).status_code == 303
    mine = mailbox.wait_for("victim@example.com", "Your code", after=1)
    assert enter_code(owner, code_in(mine)).status_code == 303
    assert login(host_client(foyer_app), "victim@example.com", OWNER_PASSWORD).status_code == 303
    assert login(host_client(foyer_app), "victim@example.com", ATTACKER_PASSWORD).status_code != 303


def test_the_code_works_in_the_browser_that_signed_up(client, open_signup, mailbox):
    signup(client, "nia@example.com", OWNER_PASSWORD, name="Nia")
    code = code_in(mailbox.wait_for("nia@example.com", "Your code"))
    done = enter_code(client, code.replace(" ", ""))  # typed without the space
    assert done.status_code == 303 and done.headers["Location"].endswith("/signup/done")
    nia = session.scalar(sa.select(User).where(User.email_normalized == "nia@example.com"))
    assert nia.email_verified and nia.name == "Nia"
    row = session.scalar(sa.select(OneTimeToken).where(OneTimeToken.purpose == tokens.SIGNUP))
    assert row.used_at is not None and "password_hash" not in row.data  # no copy left
    assert code.replace(" ", "") not in str(row.data)  # only a keyed hash was stored


def test_an_existing_address_gets_the_same_page_no_code_and_its_owner_a_notice(
    foyer_app, client, open_signup, user, mailbox, recorded_events
):
    new = signup(host_client(foyer_app), "newcomer@example.com", OWNER_PASSWORD)
    taken = signup(client, "alice@example.com", ATTACKER_PASSWORD)
    assert new.status_code == taken.status_code == 303
    assert new.headers["Location"] == taken.headers["Location"]
    notice = mailbox.wait_for("alice@example.com", "tried to")
    assert "If it was not you, ignore this email: nothing was changed." in text_of(notice)
    assert len(recorded_events("signup_existing_email")) == 1
    page = client.get("/signup/verify")
    assert page.status_code == 200 and "alice@example.com" in page.get_data(as_text=True)
    assert submit_form(client, page, "resend-code-form").status_code == 303
    # no code was sent, so every code is wrong until the sign-up ends
    answers = [enter_code(client, f"{n:04d} 0000").status_code for n in range(5)]
    assert answers == [400] * 5
    assert client.get("/signup/verify").status_code == 400
    assert login(host_client(foyer_app), "alice@example.com", USER_PASSWORD).status_code == 303
    wait_for_background(foyer_app)
    # a new code asked for later does not notify the owner again: one notice queued (counted
    # in the outbox: a mail server slower to answer than the send's budget gets the same
    # notice again when it is retried, as with any delivery that is at least once)
    queued = session.scalars(
        sa.select(OutgoingMail.purpose).where(OutgoingMail.recipient == "alice@example.com")
    ).all()
    assert queued == ["signup_attempt"]


def test_an_address_taken_meanwhile_is_said_only_to_whoever_proved_the_mailbox(
    foyer_app, client, open_signup, mailbox
):
    other = host_client(foyer_app)
    signup(client, "kai@example.com", OWNER_PASSWORD)
    first = code_in(mailbox.wait_for("kai@example.com", "Your code"))
    signup(other, "kai@example.com", ATTACKER_PASSWORD)
    second = code_in(mailbox.wait_for("kai@example.com", "Your code", after=1))
    assert enter_code(client, first).status_code == 303
    taken = enter_code(other, second)
    assert taken.status_code == 409 and "already has an account" in taken.get_data(as_text=True)
    assert users() == 1
    assert login(host_client(foyer_app), "kai@example.com", OWNER_PASSWORD).status_code == 303


def test_five_wrong_codes_end_the_signup(client, open_signup, mailbox, recorded_events):
    signup(client, "gil@example.com", OWNER_PASSWORD)
    code = code_in(mailbox.wait_for("gil@example.com", "Your code"))
    wrong = "9999 9999" if code != "9999 9999" else "0000 0000"
    statuses = [enter_code(client, wrong).status_code for _ in range(signup_service.MAX_ATTEMPTS)]
    assert statuses == [400] * signup_service.MAX_ATTEMPTS
    assert enter_code(client, code).status_code == 400  # the right code, too late
    assert users() == 0
    failed = recorded_events("signup_code_failed")
    assert [e.data["ended"] for e in failed] == [False] * 4 + [True]


def test_a_new_code_replaces_the_old_one_and_three_at_most_are_sent(client, open_signup, mailbox):
    signup(client, "hal@example.com", OWNER_PASSWORD)
    first = code_in(mailbox.wait_for("hal@example.com", "Your code"))
    page = client.get("/signup/verify")
    resent = submit_form(client, page, "resend-code-form")
    assert resent.status_code == 303
    assert "A new code is on its way" in client.get(resent.headers["Location"]).get_data(
        as_text=True
    )
    second = code_in(mailbox.wait_for("hal@example.com", "Your code", after=1))
    third_asked = submit_form(client, client.get("/signup/verify"), "resend-code-form")
    assert third_asked.status_code == 303
    mailbox.wait_for("hal@example.com", "Your code", after=2)
    page = client.get("/signup/verify")
    assert 'id="resend-code-form"' not in page.get_data(as_text=True)
    refused = client.post("/signup/verify/resend", data={"csrf_token": csrf(page)})
    assert refused.status_code == 400
    assert "No more codes can be sent" in refused.get_data(as_text=True)
    if first != second:
        assert enter_code(client, first).status_code == 400
    assert users() == 0


def test_a_code_expires(client, open_signup, mailbox):
    signup(client, "ivy@example.com", OWNER_PASSWORD)
    code = code_in(mailbox.wait_for("ivy@example.com", "Your code"))
    row = session.scalar(sa.select(OneTimeToken).where(OneTimeToken.purpose == tokens.SIGNUP))
    lifetime = row.expires_at - row.created_at
    assert dt.timedelta(minutes=9) < lifetime <= dt.timedelta(minutes=10)
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    assert enter_code(client, code).status_code == 400
    assert users() == 0


def test_a_verification_link_confirms_only_for_the_accounts_holder(
    foyer_app, client, make_user, mailbox, recorded_events
):
    """An unconfirmed account holding someone else's address (made before sign-up codes,
    or by an administrator's typo) cannot have it confirmed by the address's owner."""
    squatter = make_user(email="owner@example.com", password=ATTACKER_PASSWORD)
    sign_in(client, squatter)
    submit_form(client, client.get("/account"), "resend-verification-form")
    link = link_in(mailbox.wait_for("owner@example.com", "Confirm your email"))
    owner = host_client(foyer_app)  # the mailbox's owner clicks, in their own browser
    page = owner.get(link.removeprefix("https://login.test"))
    assert page.status_code == 200 and 'id="password"' in page.get_data(as_text=True)
    for password in ("", OWNER_PASSWORD):
        assert submit_form(owner, page, "verify-email-form", password=password).status_code == 400
    session.expire_all()
    assert not session.get(User, squatter.id).email_verified
    assert len(recorded_events("email_verification_failed")) == 1
    # whoever holds the account proves it with its password (or a signed-in browser)
    done = submit_form(owner, page, "verify-email-form", password=ATTACKER_PASSWORD)
    assert done.status_code == 303
    session.expire_all()
    assert session.get(User, squatter.id).email_verified


def csrf(page) -> str:
    match = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)
    )
    assert match
    return match.group(1)
