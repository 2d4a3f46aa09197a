"""Sign-up where a connection allows it (enforced by the server), without enumeration,
confirmed by a code emailed to the address; email verification by a single-use link behind
a button. (The attacks on both are in tests/security/test_signup_mailbox_proof.py.)"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.db import session
from app.testing import sign_in
from app.testing import submit_form
from tests.accounts.conftest import link_in
from tests.accounts.conftest import path_of

PASSWORD = "a sign-up passphrase long enough"


@pytest.fixture
def open_signup(connection):
    connection.signup_enabled = True
    session.commit()
    return connection


def signup(client, email: str, password: str = PASSWORD, name: str = "Bob", path: str = ""):
    page = client.get(f"{path}/signup")
    assert page.status_code == 200
    return submit_form(client, page, "signup-form", email=email, name=name, password=password)


def code_in(message) -> str:
    """The 8-digit code of a sign-up email, as typed (``1234 5678``)."""
    match = re.search(r"\b\d{4} \d{4}\b", message.text)
    assert match, message.text
    return match.group(0)


def enter_code(client, code: str, path: str = ""):
    page = client.get(f"{path}/signup/verify")
    return submit_form(client, page, "signup-code-form", code=code)


def test_signup_is_refused_on_the_server_where_it_is_off(client, connection, user):
    assert client.get("/signup").status_code == 403
    csrf = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"',
        client.get("/password/reset").get_data(as_text=True),
    ).group(1)
    posted = client.post(
        "/signup", data={"csrf_token": csrf, "email": "x@example.com", "password": PASSWORD}
    )
    assert posted.status_code == 403
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
    identifier = client.get("/login", follow_redirects=True).get_data(as_text=True)
    assert 'id="signup-link"' not in identifier


def test_signup_link_shows_where_signup_is_on(client, open_signup):
    page = client.get("/login", follow_redirects=True).get_data(as_text=True)
    assert 'id="signup-link"' in page and 'id="forgot-password"' not in page


def test_new_address_gets_an_account_once_the_emailed_code_is_entered(
    client, open_signup, mails, recorded_events
):
    response = signup(client, "bob@example.com")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/signup/verify")
    (message,) = mails()
    assert message.purpose == "signup_code" and message.to == "bob@example.com"
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    page = client.get("/signup/verify")
    assert page.status_code == 200 and "bob@example.com" in page.get_data(as_text=True)
    done = enter_code(client, code_in(message))
    assert done.status_code == 303 and done.headers["Location"].endswith("/signup/done")
    created = session.scalar(sa.select(User).where(User.email_normalized == "bob@example.com"))
    assert created.email_verified and created.name == "Bob"
    assert created.password_hash.startswith("$argon2id$")
    assert recorded_events("user_created")[0].data == {"via": "signup"}
    assert client.get("/signup/done").status_code == 200
    assert client.get("/signup/verify").status_code == 400  # the sign-up is over


def test_existing_address_gets_the_same_answer_and_its_owner_a_notice(
    client, open_signup, user, mails
):
    new = signup(client, "carol@example.com")
    existing = signup(client, "alice@example.com")
    assert new.status_code == existing.status_code == 303
    assert new.headers["Location"] == existing.headers["Location"]
    purposes = {m.to: m.purpose for m in mails()}
    assert purposes == {"carol@example.com": "signup_code", "alice@example.com": "signup_attempt"}
    notice = [m for m in mails() if m.to == "alice@example.com"][0]
    assert "already have one" in notice.text
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_signup_checks_the_password_policy_and_hook(client, open_signup, register_plugin, mails):
    from app.hookspecs import hookimpl

    class NoSeasons:
        @hookimpl
        def check_password(self, password):
            return "No seasons, please." if "summer" in password else None

    register_plugin(NoSeasons(), name="no-seasons")
    short = signup(client, "dan@example.com", "short")
    assert short.status_code == 400 and "at least 12 characters" in short.get_data(as_text=True)
    seasonal = signup(client, "dan@example.com", "a summer cabin by the lake")
    assert seasonal.status_code == 400 and "No seasons, please." in seasonal.get_data(as_text=True)
    assert mails() == []


def test_prepare_user_hook_runs_for_signups(client, open_signup, register_plugin, mails):
    from app.hookspecs import hookimpl

    class Tag:
        @hookimpl
        def prepare_user(self, user):
            user.app_metadata = {"source": "signup"}

    register_plugin(Tag(), name="tag")
    signup(client, "erin@example.com")
    enter_code(client, code_in(mails()[0]))
    created = session.scalar(sa.select(User).where(User.email_normalized == "erin@example.com"))
    assert created.app_metadata == {"source": "signup"}


def test_resend_answers_the_same_and_mails_only_unverified_accounts(
    client, open_signup, user, make_user, mails
):
    make_user(email="frank@example.com")
    answers = []
    for email in ("frank@example.com", "alice@example.com", "nobody@example.com"):
        page = client.get("/email/verify/resend")
        answers.append(submit_form(client, page, "resend-verification-form", email=email))
    assert {a.status_code for a in answers} == {303}
    assert len({a.headers["Location"] for a in answers}) == 1
    assert [m.to for m in mails()] == ["frank@example.com"]


def test_account_page_offers_resend_to_an_unverified_user(client, make_user, mails):
    frank = make_user(email="frank@example.com")
    sign_in(client, frank)
    page = client.get("/account")
    body = page.get_data(as_text=True)
    assert "Not confirmed yet" in body
    submit_form(client, page, "resend-verification-form")
    assert [m.to for m in mails()] == ["frank@example.com"]


def test_stale_verification_link_offers_a_new_one(client, make_user, mails):
    frank = make_user(email="frank@example.com")
    sign_in(client, frank)
    submit_form(client, client.get("/account"), "resend-verification-form")
    submit_form(client, client.get("/account"), "resend-verification-form")
    first, second = (link_in(m) for m in mails())
    stale = client.get(path_of(first))
    assert stale.status_code == 400
    assert 'id="resend-verification-form"' in stale.get_data(as_text=True)
    assert client.get(path_of(second)).status_code == 200


def test_verification_link_confirms_with_a_button_for_the_signed_in_holder(
    client, make_user, mails
):
    frank = make_user(email="frank@example.com")
    sign_in(client, frank)
    submit_form(client, client.get("/account"), "resend-verification-form")
    link = link_in(mails()[0])
    page = client.get(path_of(link))
    assert page.status_code == 200 and 'id="password"' not in page.get_data(as_text=True)
    session.expire_all()
    assert not session.get(User, frank.id).email_verified  # a GET never verifies
    assert submit_form(client, page, "verify-email-form").status_code == 303
    session.expire_all()
    assert session.get(User, frank.id).email_verified
    assert client.get(path_of(link)).status_code == 400  # used


def test_signup_page_fields_are_labelled(client, open_signup):
    body = client.get("/signup").get_data(as_text=True)
    for field in ("email", "name", "password"):
        assert re.search(rf'<label class="field__label" for="{field}">', body)
    assert 'autocomplete="new-password"' in body and 'autocomplete="email"' in body


def test_an_organizations_own_connection_takes_sign_ups_only_on_its_pages(
    client, connection, make_connection, make_organization, mails
):
    own = make_connection("open-users", signup_enabled=True)
    make_organization("open", "Open Community", connections=[own])
    assert client.get("/signup").status_code == 403  # not on the tenant's pages
    signup(client, "gus@example.com", path="/o/open")
    (message,) = mails()
    assert "Open Community" in message.subject
    assert enter_code(client, code_in(message), path="/o/open").status_code == 303
    created = session.scalar(sa.select(User).where(User.email_normalized == "gus@example.com"))
    assert created.connection_id == own.id


def test_a_signup_inside_an_applications_sign_in_goes_on_signed_in(
    client, open_signup, oidc_client, mails, recorded_events
):
    """Signing up from an application's sign-in ends in the application, signed in: the code
    entered in this browser proved the address and the password was chosen moments ago.
    The proof counts once, for that sign-in only."""
    model, secret = oidc_client
    started = client.get(
        "/authorize",
        query_string={
            "response_type": "code",
            "client_id": model.client_id,
            "redirect_uri": model.redirect_uris[0],
            "scope": "openid email",
            "state": "s-1",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    tx = re.search(r"tx=([\w-]+)", started.headers["Location"]).group(1)
    page = client.get(f"/signup?tx={tx}")
    assert page.status_code == 200
    submit_form(client, page, "signup-form", email="bob@example.com", name="Bob", password=PASSWORD)
    page = client.get(f"/signup/verify?tx={tx}")
    done = submit_form(client, page, "signup-code-form", code=code_in(mails()[-1]))
    assert done.status_code == 303 and f"/login/signed-up?tx={tx}" in done.headers["Location"]
    back = client.get(path_of(done.headers["Location"]))
    assert back.status_code in (302, 303)
    location = back.headers["Location"]
    assert location.startswith(model.redirect_uris[0]) and "code=" in location, location
    assert "state=s-1" in location
    signed_in = recorded_events("login_succeeded")
    assert signed_in and signed_in[-1].data.get("amr") in (["pwd"], None)
    again = client.get(f"/login/signed-up?tx={tx}")  # the proof was used: no second sign-in
    assert again.status_code in (303, 400)
    assert "code=" not in again.headers.get("Location", "")


def test_a_signed_up_proof_does_not_sign_in_another_sign_in(client, open_signup, make_login_tx):
    from app.accounts.signup import SIGNED_UP_KEY

    first, second = make_login_tx(), make_login_tx()
    client.get(f"/login?tx={first}")
    with client.session_transaction() as cookie:
        cookie[SIGNED_UP_KEY] = {"tx": first, "user": "nobody", "organization": None, "at": 0}
    answer = client.get(f"/login/signed-up?tx={second}")
    assert answer.status_code == 303 and f"/login?tx={second}" in answer.headers["Location"]
