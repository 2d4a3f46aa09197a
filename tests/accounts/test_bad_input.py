"""Hostile or odd input on every account page gets a page or a redirect, never a 500."""

from __future__ import annotations

import re

import pytest

from app.testing import USER_PASSWORD
from app.testing import login
from app.testing import sign_in

ODD_VALUES = [
    "",
    " ",
    "\x00",
    "١٢٣٤٥٦",
    "１２３４５６",
    "a" * 5000,
    "<script>x</script>",
    "'; drop table user; --",
    "é@ü.例え",
    "@",
    "a@b",
    "\r\nBcc: x@evil.test",
]


def csrf(client) -> str:
    page = client.get("/password/reset").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


@pytest.fixture
def odd_posts(client, connection):
    connection.signup_enabled = True

    def post_all(path: str, fields: list[str]) -> list[int]:
        token = csrf(client)
        statuses = []
        for value in ODD_VALUES:
            data = {"csrf_token": token, **{field: value for field in fields}}
            statuses.append(client.post(path, data=data).status_code)
        return statuses

    return post_all


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/password/reset", ["email"]),
        ("/password/reset/new", ["token", "new_password"]),
        ("/email/verify", ["token"]),
        ("/email/verify/resend", ["email"]),
        ("/signup", ["email", "name", "password"]),
        ("/invitation", ["token", "name", "new_password", "password"]),
    ],
)
def test_public_forms_never_fail(foyer_app, odd_posts, user, mails, path, fields):
    foyer_app.extensions["foyer.settings"].rate_limit_account_email = "1000 per hour"
    foyer_app.extensions["foyer.settings"].rate_limit_login = "1000 per hour"
    assert all(status < 500 for status in odd_posts(path, fields))


def test_signed_in_forms_never_fail(foyer_app, client, user, odd_posts):
    foyer_app.extensions["foyer.settings"].rate_limit_login = "1000 per hour"
    sign_in(client, user)
    for path, fields in [
        ("/account/password", ["current_password", "new_password"]),
        ("/account/mfa/setup", ["code", "current_password"]),
        ("/account/mfa/disable", ["current_password"]),
    ]:
        assert all(status < 500 for status in odd_posts(path, fields)), path


def test_code_step_never_fails(foyer_app, client, user):
    from app.accounts import mfa
    from app.db import session

    mfa.start_enrollment(user, "Acme")
    from app.accounts.models import TotpFactor
    from app.db import utcnow

    factor = session.query(TotpFactor).one()
    factor.confirmed_at = utcnow()
    session.commit()
    foyer_app.extensions["foyer.settings"].rate_limit_mfa = "1000 per hour"
    step = login(client, "alice@example.com", USER_PASSWORD)
    path = step.headers["Location"]
    token = csrf(client)
    for value in ODD_VALUES:
        assert client.post(path, data={"csrf_token": token, "code": value}).status_code < 500


def test_control_characters_never_reach_the_database(client, connection, mails, recorded_events):
    connection.signup_enabled = True
    token = csrf(client)
    for value in ("a\x00@example.com", "b@example.com\x00", "c\x1f@example.com"):
        for path in ("/password/reset", "/signup", "/email/verify/resend"):
            response = client.post(
                path, data={"csrf_token": token, "email": value, "password": "long enough password"}
            )
            assert response.status_code in (400, 429), (path, value)
    named = client.post(
        "/signup",
        data={
            "csrf_token": token,
            "email": "d@example.com",
            "name": "Dee\x00",
            "password": "long enough password",
        },
    )
    assert named.status_code == 400
    assert mails() == []


def test_query_strings_never_fail(client, user):
    for path in [
        "/password/reset/new",
        "/email/verify",
        "/invitation",
        "/consent",
        "/login/mfa",
        "/account",
        "/email/verified",
        "/signup/verify",
        "/signup/done",
        "/invitation/accepted",
    ]:
        for value in ODD_VALUES[:8]:
            response = client.get(path, query_string={"token": value, "tx": value, "org": value})
            assert response.status_code < 500, (path, value)
