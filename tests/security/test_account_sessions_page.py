"""A user sees the browsers signed in to their account and ends the others (S-04).

Ending a session asks for the password again (ASVS 5 §7.5.2), works only on the user's own
sessions, signs that browser out at once, and is logged. The page is branded and speaks
the user's language like every hosted page.
"""

from __future__ import annotations

import pytest

from app.db import session
from app.sessions.services import active_sessions
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login
from app.testing import read_form
from app.testing import submit_form

FIREFOX_ON_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_ON_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def browser(foyer_app, user, agent, address):
    """A browser signed in as ``user``, with its User-Agent and client address."""
    made = host_client(foyer_app)
    made.environ_base.update({"HTTP_USER_AGENT": agent, "REMOTE_ADDR": address})
    assert login(made, user.email, USER_PASSWORD).status_code == 303
    return made


def text(response):
    return response.get_data(as_text=True)


@pytest.fixture
def laptop(foyer_app, user):
    return browser(foyer_app, user, FIREFOX_ON_LINUX, "192.0.2.10")


@pytest.fixture
def phone(foyer_app, user):
    return browser(foyer_app, user, SAFARI_ON_IPHONE, "198.51.100.7")


def test_the_page_lists_the_users_sessions(laptop, phone, foyer_app, make_user):
    browser(foyer_app, make_user(email="bob@example.com"), FIREFOX_ON_LINUX, "203.0.113.9")
    page = laptop.get("/account/sessions")
    assert page.status_code == 200
    body = text(page)
    assert "Firefox on Linux" in body and "Safari on iOS" in body
    assert "192.0.2.10" in body and "198.51.100.7" in body
    assert "203.0.113.9" not in body  # Bob's session is not Alice's
    assert body.count('class="session ') + body.count('class="session"') == 2
    assert "This browser" in body
    assert 'id="end-others"' in body
    assert 'href="/account/sessions"' in text(laptop.get("/account"))


def test_ending_another_session_signs_that_browser_out(laptop, phone, recorded_events):
    assert phone.get("/account").status_code == 200
    page = laptop.get("/account/sessions")
    form = read_form(text(page), "sessions-form")
    [phone_id] = [
        line.split('id="end-')[1].split('"')[0]
        for line in text(page).splitlines()
        if 'id="end-' in line and 'id="end-others"' not in line
    ]
    answer = laptop.post(
        form.action, data={**form.fields, "current_password": USER_PASSWORD, "session": phone_id}
    )
    assert answer.status_code == 303
    assert "done=ended" in answer.headers["Location"]
    assert phone.get("/account").status_code == 302  # sent to sign in
    assert laptop.get("/account").status_code == 200
    listed = text(laptop.get("/account/sessions"))
    assert "Safari on iOS" not in listed and 'id="end-others"' not in listed
    [event] = recorded_events("logout")
    assert event.data == {"session": phone_id, "via": "account_page"}


def test_ending_sessions_asks_for_the_password(laptop, phone):
    page = laptop.get("/account/sessions")
    wrong = submit_form(
        laptop, page, "sessions-form", current_password="not my password", session="others"
    )
    assert wrong.status_code == 400
    assert "This is not your current password." in text(wrong)
    assert phone.get("/account").status_code == 200


def test_ending_all_other_sessions(foyer_app, user, laptop, phone):
    third = browser(foyer_app, user, FIREFOX_ON_LINUX, "192.0.2.11")
    page = laptop.get("/account/sessions")
    answer = submit_form(
        laptop, page, "sessions-form", current_password=USER_PASSWORD, session="others"
    )
    assert answer.status_code == 303
    assert phone.get("/account").status_code == 302
    assert third.get("/account").status_code == 302
    assert laptop.get("/account").status_code == 200


def test_another_users_session_cannot_be_ended(foyer_app, make_user, laptop):
    bob = make_user(email="bob@example.com")
    bobs_browser = browser(foyer_app, bob, FIREFOX_ON_LINUX, "203.0.113.9")

    [bobs] = active_sessions(bob)
    page = laptop.get("/account/sessions")
    answer = submit_form(
        laptop, page, "sessions-form", current_password=USER_PASSWORD, session=bobs.id
    )
    assert answer.status_code == 303
    assert "done=none" in answer.headers["Location"]
    assert bobs_browser.get("/account").status_code == 200


def test_a_cross_site_post_without_the_csrf_token_is_refused(laptop, phone):
    answer = laptop.post(
        "/account/sessions", data={"current_password": USER_PASSWORD, "session": "others"}
    )
    assert answer.status_code == 400
    assert phone.get("/account").status_code == 200


def test_the_page_needs_a_signed_in_user(client, tenant):
    assert client.get("/account/sessions").headers["Location"] == "/login"


def test_the_page_is_translated_and_branded(laptop, tenant):

    tenant.settings = {**(tenant.settings or {}), "branding": {"display_name": "Acme Portal"}}
    session.commit()
    page = text(laptop.get("/account/sessions?lang=fr"))
    assert 'lang="fr"' in page
    assert "Vos sessions" in page
    assert "Ce navigateur" in page
    assert "Acme Portal" in page
