"""Two-step verification: TOTP set-up with a QR code, the code step after the password,
single use per time step, recovery codes, attempt limits, and amr in the tokens."""

from __future__ import annotations

import re
import time
import types

import pyotp
import pytest

from app.accounts import mfa
from app.db import session
from app.testing import USER_PASSWORD
from app.testing import login
from app.testing import read_form
from app.testing import run_authorization_code_flow
from app.testing import sign_in
from app.testing import submit_form


class Clock:
    """The time the code checks see (``app.accounts.mfa`` reads ``time.time()``)."""

    def __init__(self) -> None:
        self.now = time.time()

    def code(self, totp: pyotp.TOTP) -> str:
        return totp.at(self.now)


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(mfa, "time", types.SimpleNamespace(time=lambda: clock.now))
    return clock


def wait_for_next_step(totp: pyotp.TOTP, clock: Clock) -> None:
    """Move into the next 30-second step (codes of a used step are refused)."""
    clock.now += totp.interval


def enroll(client, user) -> tuple[pyotp.TOTP, list[str]]:
    """Set up an authenticator through the pages; returns it and the recovery codes."""
    sign_in(client, user)
    page = client.get("/account/mfa/setup")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', body).group(1).replace(" ", "")
    totp = pyotp.TOTP(secret)
    done = submit_form(
        client,
        page,
        "mfa-setup-form",
        code=totp.at(mfa.time.time()),
        current_password=USER_PASSWORD,
    )
    assert done.status_code == 303, done.get_data(as_text=True)
    codes_page = client.get(done.headers["Location"]).get_data(as_text=True)
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", codes_page)
    assert len(codes) == 10
    client.post(
        "/logout",
        data={
            "csrf_token": read_form(
                client.get("/logout").get_data(as_text=True), "logout-form"
            ).fields["csrf_token"]
        },
    )
    return totp, codes


def test_setup_page_shows_a_qr_code_as_an_svg_data_uri(client, user):
    sign_in(client, user)
    body = client.get("/account/mfa/setup").get_data(as_text=True)
    assert 'id="totp-qr" src="data:image/svg+xml' in body
    assert 'autocomplete="one-time-code"' in body and 'inputmode="numeric"' in body
    assert "<script" not in body


def test_setup_needs_the_password_and_a_right_code(client, user):
    sign_in(client, user)
    page = client.get("/account/mfa/setup")
    body = page.get_data(as_text=True)
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', body).group(1).replace(" ", "")
    code = pyotp.TOTP(secret).at(mfa.time.time())
    wrong_pw = submit_form(
        client, page, "mfa-setup-form", code=code, current_password="wrong password here"
    )
    assert wrong_pw.status_code == 400
    wrong_code = submit_form(
        client, page, "mfa-setup-form", code="000000", current_password=USER_PASSWORD
    )
    assert wrong_code.status_code == 400
    assert not mfa.has_totp(user)


def test_sign_in_asks_for_the_code_after_the_password(client, user, recorded_events, clock):
    totp, _codes = enroll(client, user)
    wait_for_next_step(totp, clock)
    step = login(client, "alice@example.com", USER_PASSWORD)
    assert step.status_code == 303 and "/login/mfa?tx=" in step.headers["Location"]
    assert client.get("/account").status_code == 302  # not signed in yet
    page = client.get(step.headers["Location"])
    wrong_code = "123456" if clock.code(totp) != "123456" else "654321"
    wrong = submit_form(client, page, "mfa-form", code=wrong_code)
    assert wrong.status_code == 400
    done = submit_form(client, page, "mfa-form", code=clock.code(totp))
    assert done.status_code == 303 and done.headers["Location"].endswith("/login/done")
    assert client.get("/account").status_code == 200
    assert recorded_events("mfa_failed")


def test_a_code_works_once(client, foyer_app, user, clock):
    from app.testing import host_client

    totp, _codes = enroll(client, user)
    wait_for_next_step(totp, clock)
    code = clock.code(totp)
    first = host_client(foyer_app)
    step = login(first, "alice@example.com", USER_PASSWORD)
    assert (
        submit_form(first, first.get(step.headers["Location"]), "mfa-form", code=code).status_code
        == 303
    )
    second = host_client(foyer_app)
    step = login(second, "alice@example.com", USER_PASSWORD)
    replay = submit_form(second, second.get(step.headers["Location"]), "mfa-form", code=code)
    assert replay.status_code == 400  # the same step's code, replayed


def test_recovery_codes_are_single_use(client, foyer_app, user, recorded_events):
    from app.testing import host_client

    _totp, codes = enroll(client, user)
    browser = host_client(foyer_app)
    step = login(browser, "alice@example.com", USER_PASSWORD)
    ok = submit_form(
        browser, browser.get(step.headers["Location"]), "mfa-form", code=codes[0].upper()
    )
    assert ok.status_code == 303
    assert recorded_events("recovery_code_used")[0].data == {"left": 9}
    again = host_client(foyer_app)
    step = login(again, "alice@example.com", USER_PASSWORD)
    assert (
        submit_form(
            again, again.get(step.headers["Location"]), "mfa-form", code=codes[0]
        ).status_code
        == 400
    )


def test_code_attempts_are_limited_per_user(client, foyer_app, user):
    from app.testing import host_client

    _totp, codes = enroll(client, user)
    foyer_app.extensions["foyer.settings"].rate_limit_mfa = "3 per hour"
    browser = host_client(foyer_app)
    step = login(browser, "alice@example.com", USER_PASSWORD)
    page = browser.get(step.headers["Location"])
    statuses = [submit_form(browser, page, "mfa-form", code="000000").status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    # even a right recovery code waits now
    assert submit_form(browser, page, "mfa-form", code=codes[1]).status_code == 429


def test_amr_says_mfa_in_the_id_token(client, foyer_app, user, oidc_client, clock):
    from app.testing import FlowStopped
    from app.testing import host_client

    totp, _codes = enroll(client, user)
    app_client, secret = oidc_client
    browser = host_client(foyer_app)
    with pytest.raises(FlowStopped) as stopped:
        run_authorization_code_flow(browser, app_client, secret, "alice@example.com", USER_PASSWORD)
    page = stopped.value.response  # the flow stopped on the code page
    assert 'id="mfa-form"' in page.get_data(as_text=True)
    wait_for_next_step(totp, clock)
    resumed = submit_form(browser, page, "mfa-form", code=clock.code(totp))
    assert resumed.headers["Location"].startswith(app_client.redirect_uris[0] + "?code=")
    result = run_authorization_code_flow(
        browser, app_client, secret, "alice@example.com", USER_PASSWORD
    )  # the session now answers at once
    assert set(result.id_token["amr"]) >= {"pwd", "otp", "mfa"}


def test_turning_it_off_needs_the_password(client, user):
    enroll(client, user)
    sign_in(client, user)
    page = client.get("/account/mfa")
    assert page.status_code == 200 and 'id="codes-left"' in page.get_data(as_text=True)
    wrong = submit_form(client, page, "mfa-settings-form", current_password="nope nope nope")
    assert wrong.status_code == 400 and mfa.has_totp(user)
    off = submit_form(client, page, "mfa-settings-form", current_password=USER_PASSWORD)
    assert off.status_code == 303
    session.expire_all()
    assert not mfa.has_totp(user)


def test_code_page_without_a_pending_sign_in_is_an_error(client, user, make_login_tx):
    tx = make_login_tx()
    assert client.get(f"/login/mfa?tx={tx}").status_code == 400
    assert client.get("/login/mfa?tx=nonsense").status_code == 400


def test_secret_is_encrypted_at_rest(client, user):
    import sqlalchemy as sa

    from app.accounts.models import TotpFactor

    totp, _codes = enroll(client, user)
    row = session.scalar(sa.select(TotpFactor))
    assert totp.secret not in row.secret_encrypted


def test_new_recovery_codes_replace_the_old_ones(client, foyer_app, user):
    from app.testing import host_client

    _totp, old_codes = enroll(client, user)
    sign_in(client, user)
    page = client.get("/account/mfa")
    form = re.search(r'formaction="([^"]+)"', page.get_data(as_text=True)).group(1)
    csrf = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)
    ).group(1)
    wrong = client.post(form, data={"csrf_token": csrf, "current_password": "not it at all"})
    assert wrong.status_code == 400
    renewed = client.post(form, data={"csrf_token": csrf, "current_password": USER_PASSWORD})
    assert renewed.status_code == 303
    new_codes = re.findall(
        r"<li><code>([a-z0-9-]+)</code></li>",
        client.get(renewed.headers["Location"]).get_data(as_text=True),
    )
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    browser = host_client(foyer_app)
    step = login(browser, "alice@example.com", USER_PASSWORD)
    page = browser.get(step.headers["Location"])
    assert submit_form(browser, page, "mfa-form", code=old_codes[0]).status_code == 400
    assert submit_form(browser, page, "mfa-form", code=new_codes[0]).status_code == 303
