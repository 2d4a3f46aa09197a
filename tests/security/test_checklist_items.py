"""Items of the security checklist that no other test held: one test each, named by its code.

docs/security.md names, for every item, the test that holds it or why it does not apply.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
import urllib.parse

import pyotp
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from click.testing import CliRunner
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.accounts import mfa
from app.accounts.cli import register_commands
from app.accounts.models import User
from app.cli import AppContext
from app.cli import cli
from app.config import Settings
from app.db import session
from app.db import utcnow
from app.mail.default_smtp import build_mime
from app.oidc import keys
from app.security.passwords import hash_password
from app.sessions.models import SsoSession
from app.testing import USER_PASSWORD
from app.testing import authorize
from app.testing import exchange_code
from app.testing import host_client
from app.testing import login
from app.testing import sign_in
from app.testing import submit_form
from app.testing import token_request
from tests.accounts.conftest import link_in
from tests.accounts.conftest import path_of

register_commands(cli)
SIGNED_OUT = "https://app.test/signed-out"
OFFLINE = "openid profile email offline_access"


def browser_at(app, ip: str):
    browser = host_client(app)
    browser.environ_base["REMOTE_ADDR"] = ip
    return browser


def tokens_for(browser, user, model, secret, scope: str = OFFLINE) -> dict:
    sign_in(browser, user)
    answer = exchange_code(browser, model, authorize(browser, model, scope=scope), secret)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


# --- Attack protection -----------------------------------------------------------------------


@pytest.fixture
def foyer_config(foyer_config):
    return {**foyer_config, "rate_limit_login": "1000 per minute"}


def test_a05_a_spoofed_x_forwarded_for_neither_bypasses_nor_shifts_the_limits(
    foyer_app, user, recorded_events
):
    """Without trusted proxies (the default) X-Forwarded-For is ignored: ten failures, each
    naming another address, are ten failures of one address; naming the victim's address
    does not block the victim."""
    assert foyer_app.extensions["foyer.settings"].trusted_proxies == 0
    attacker = browser_at(foyer_app, "203.0.113.66")
    for number in range(10):
        attacker.environ_base["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{number + 1}"
        assert login(attacker, user.email, "a wrong password, again").status_code == 400
    [blocked] = recorded_events("login_pair_blocked")
    attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "192.0.2.200"
    assert login(attacker, user.email, USER_PASSWORD).status_code == 400  # still blocked
    assert {e.ip for e in recorded_events("login_failed")} == {"203.0.113.66"}
    victim = browser_at(foyer_app, "198.51.100.1")  # an address the attacker named
    assert login(victim, user.email, USER_PASSWORD).status_code == 303
    assert blocked.ip == "203.0.113.66"


def test_a09_no_other_site_may_frame_a_page(client, user, tenant):
    for path in ("/login", "/password/reset", "/logout", "/no-such-page"):
        answer = client.get(path, follow_redirects=True)
        assert "frame-ancestors 'self'" in answer.headers["Content-Security-Policy"], path
        assert answer.headers["X-Frame-Options"] == "SAMEORIGIN", path


def test_a11_a_fresh_installation_has_no_default_account(foyer_app, tenant, connection):
    """Migrations and the first tenant create no user, admin or root."""
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    for name in ("admin", "root", "administrator"):
        assert login(host_client(foyer_app), name, name).status_code == 400


# --- Account lifecycle -----------------------------------------------------------------------

OWASP_ARGON2ID = {(47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5)}
"""OWASP's equivalent argon2id settings (memory KiB, iterations), all with p = 1; the first
is the checklist's floor (46 MiB, t = 1)."""


def test_l04_password_hashes_meet_the_argon2id_floor(foyer_app, monkeypatch):
    """The shipped defaults (tests run with cheaper ones) hash with argon2id at one of
    OWASP's equivalent settings; the stored hash says so."""
    defaults = dataclasses.fields(Settings)
    default = {f.name: f.default for f in defaults if f.name.startswith("argon2_")}
    memory, time_cost = default["argon2_memory_cost"], default["argon2_time_cost"]
    assert default["argon2_parallelism"] == 1
    assert any(memory >= m and time_cost >= t for m, t in OWASP_ARGON2ID), default
    settings = foyer_app.extensions["foyer.settings"]
    for name, value in default.items():
        monkeypatch.setattr(settings, name, value)
    monkeypatch.delitem(foyer_app.extensions, "foyer.hasher", raising=False)
    with foyer_app.app_context():
        stored = hash_password("a passphrase hashed with the defaults")
    assert stored.startswith(f"$argon2id$v=19$m={memory},t={time_cost},p=1$")
    assert PasswordHasher().verify(stored, "a passphrase hashed with the defaults")
    foyer_app.extensions.pop("foyer.hasher", None)


def test_l08_the_reset_page_sends_no_referrer_and_a_reset_does_not_bypass_two_step(
    foyer_app, client, user, mails
):
    browser = host_client(foyer_app)
    sign_in(browser, user)
    page = browser.get("/account/mfa/setup")
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', page.get_data(as_text=True))
    totp = pyotp.TOTP(secret.group(1).replace(" ", ""))
    assert (
        submit_form(
            browser, page, "mfa-setup-form", code=totp.now(), current_password=USER_PASSWORD
        ).status_code
        == 303
    )
    request = client.get("/password/reset")
    submit_form(client, request, "reset-request-form", email=user.email)
    link = link_in([m for m in mails() if m.purpose == "password_reset"][-1])
    assert link.startswith("https://")
    form = client.get(path_of(link))
    assert form.headers["Referrer-Policy"] == "no-referrer"
    done = submit_form(client, form, "reset-password-form", new_password="a new long passphrase!")
    assert done.status_code == 303
    assert client.get("/account").status_code == 302  # no sign-in after a reset
    step = login(client, user.email, "a new long passphrase!")
    assert step.status_code == 303 and "/login/mfa?tx=" in step.headers["Location"]
    assert mfa.has_totp(user)


def test_l11_an_admin_can_start_a_reset_but_no_command_sets_or_shows_a_password(foyer_app):
    runner = CliRunner()
    listed = runner.invoke(cli, ["users", "--help"])
    assert listed.exit_code == 0
    commands = set(re.findall(r"^  ([a-z-]+)", listed.output, re.MULTILINE))
    assert "send-reset" in commands
    assert not {c for c in commands if "password" in c or c in {"show", "get", "set", "edit"}}


# --- Sessions --------------------------------------------------------------------------------


def test_s01_each_sign_in_gets_a_new_random_session_id_of_at_least_128_bits(
    foyer_app, client, user
):
    def current_sid(browser) -> str:
        with browser.session_transaction() as cookie:
            return str(cookie["_user_id"])

    assert login(client, user.email, USER_PASSWORD).status_code == 303
    first = current_sid(client)
    submit_form(client, client.get("/logout"), "logout-form")
    assert login(client, user.email, USER_PASSWORD).status_code == 303
    second = current_sid(client)
    other = host_client(foyer_app)
    assert login(other, user.email, USER_PASSWORD).status_code == 303
    sids = [first, second, current_sid(other)]
    assert len(set(sids)) == 3
    assert set(sids) <= set(session.scalars(sa.select(SsoSession.sid)).all())
    for sid in sids:
        assert len(sid) >= 22  # URL-safe base64: 6 bits a character, 132 bits and more
        assert re.fullmatch(r"[A-Za-z0-9_-]+", sid)


def test_s01_a_session_id_planted_before_sign_in_is_not_kept(foyer_app, client, user):
    """Fixation: a cookie naming a session before the sign-in is replaced by a new one."""
    planted = sign_in(host_client(foyer_app), user)  # a session the attacker knows
    with client.session_transaction() as cookie:
        cookie["_user_id"] = planted.sid + "x"  # a guess: no such session
    assert login(client, user.email, USER_PASSWORD).status_code == 303
    with client.session_transaction() as cookie:
        current = cookie["_user_id"]
    assert current not in (planted.sid, planted.sid + "x")


def test_s03_idle_and_absolute_timeouts_are_enforced_on_the_server(foyer_app, client, user):
    settings = foyer_app.extensions["foyer.settings"]
    sso = sign_in(client, user)
    assert client.get("/account").status_code == 200
    sso.last_seen_at = utcnow() - dt.timedelta(seconds=settings.session_idle_timeout + 1)
    session.commit()
    assert client.get("/account").status_code == 302  # idle too long
    other = host_client(foyer_app)
    sso = sign_in(other, user)
    sso.expires_at = utcnow() - dt.timedelta(seconds=1)  # active, but past its lifetime
    session.commit()
    assert other.get("/account").status_code == 302
    assert settings.session_idle_timeout <= 3600 and settings.session_lifetime <= 12 * 3600


def test_s04_an_admin_signs_out_one_user_or_every_user(foyer_app, user, make_user, oidc_client):
    model, secret = oidc_client
    bob = make_user(email="bob@example.com", email_verified=True)
    alice_browser, bob_browser = host_client(foyer_app), host_client(foyer_app)
    alice_tokens = tokens_for(alice_browser, user, model, secret)
    bob_tokens = tokens_for(bob_browser, bob, model, secret)

    def run(*args: str):
        result = CliRunner().invoke(
            cli, ["users", "sign-out", "--tenant", "acme", *args], obj=AppContext(foyer_app)
        )
        session.expire_all()
        return result

    def refreshes(browser, tokens) -> bool:
        answer = token_request(
            browser,
            model,
            secret,
            grant_type="refresh_token",
            refresh_token=tokens["refresh_token"],
        )
        return answer.status_code == 200

    assert run().exit_code != 0  # neither --email nor --all
    one = run("--email", "alice@example.com")
    assert one.exit_code == 0, one.output
    assert "signed out 1 user(s): 1 session(s) ended" in one.output, one.output
    assert alice_browser.get("/account").status_code == 302
    assert not refreshes(alice_browser, alice_tokens)
    assert bob_browser.get("/account").status_code == 200
    everyone = run("--all")
    assert everyone.exit_code == 0, everyone.output
    assert bob_browser.get("/account").status_code == 302
    assert not refreshes(bob_browser, bob_tokens)


def test_s09_sessions_of_a_user_are_not_limited_in_number_and_each_is_listed(foyer_app, user):
    """The documented behaviour (docs/accounts.md): no cap on concurrent sessions; each is
    listed on the sessions page, where the user ends any or all others."""
    browsers = [host_client(foyer_app) for _ in range(4)]
    for browser in browsers:
        assert login(browser, user.email, USER_PASSWORD).status_code == 303
    for browser in browsers:
        assert browser.get("/account").status_code == 200
    listed = browsers[0].get("/account/sessions").get_data(as_text=True)
    assert listed.count('name="session"') >= 3  # an "end" button for each other session


def test_s10_html_answers_carry_hsts_csp_nosniff_and_a_referrer_policy(client, tenant):
    for path in ("/login", "/password/reset", "/no-such-page"):
        answer = client.get(path, follow_redirects=True)
        headers = answer.headers
        hsts = headers["Strict-Transport-Security"]
        assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 31_536_000
        assert "includeSubDomains" in hsts
        csp = headers["Content-Security-Policy"]
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"]
        assert "<script>" not in answer.get_data(as_text=True)  # no inline script to allow


# --- Protocol --------------------------------------------------------------------------------


def test_p13_token_answers_are_never_cached_and_confidential_clients_authenticate(
    client, user, oidc_client
):
    model, secret = oidc_client
    sign_in(client, user)
    result = authorize(client, model)
    anonymous = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": result["code"],
            "redirect_uri": result["redirect_uri"],
            "code_verifier": result["verifier"],
            "client_id": model.client_id,
        },
    )
    assert anonymous.status_code == 401
    assert anonymous.headers["Cache-Control"] == "no-store"
    answer = exchange_code(client, model, authorize(client, model), secret)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers.get("Pragma") == "no-cache"


@pytest.mark.parametrize("header", ["jwk", "jku", "x5u"])
def test_p18_keys_named_by_a_tokens_own_header_are_never_used(
    client, tenant, user, oidc_client, header
):
    """An ID token hint re-signed by another key that its header offers (``jwk``) or points
    at (``jku``, ``x5u``), even under the tenant's own ``kid``, is refused: only the
    tenant's keys verify."""
    model, secret = oidc_client
    tokens = tokens_for(client, user, model, secret)
    real = jwt.decode(tokens["id_token"], keys.keyring(tenant.id).public_keyset)
    foreign = RSAKey.generate_key(2048, auto_kid=True)
    offered = {
        "jwk": foreign.as_dict(private=False),
        "jku": "https://attacker.test/jwks.json",
        "x5u": "https://attacker.test/cert.pem",
    }[header]
    forged = jwt.encode(
        {"alg": "RS256", "kid": real.header["kid"], header: offered}, real.claims, foreign
    )
    answer = client.get(
        "/oidc/logout",
        query_string={"id_token_hint": forged, "post_logout_redirect_uri": SIGNED_OUT},
    )
    assert not answer.headers.get("Location", "").startswith(SIGNED_OUT)
    assert client.get("/account").status_code == 200  # still signed in


# --- Races -----------------------------------------------------------------------------------


def race(foyer_app, count: int, attempt) -> list[int]:
    """Run ``attempt(browser)`` in ``count`` threads released at once; their statuses."""
    barrier = threading.Barrier(count)
    statuses: list[int] = []
    lock = threading.Lock()

    def run() -> None:
        browser = host_client(foyer_app)
        barrier.wait()
        status = attempt(browser)
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return statuses


def test_o06_of_twenty_parallel_redemptions_of_one_code_exactly_one_succeeds(
    foyer_app, client, user, oidc_client
):
    model, secret = oidc_client
    sign_in(client, user)
    result = authorize(client, model, scope=OFFLINE)
    statuses = race(
        foyer_app, 20, lambda browser: exchange_code(browser, model, result, secret).status_code
    )
    assert sorted(statuses) == [200] + [400] * 19


def test_o06_of_twenty_parallel_refreshes_with_one_token_at_most_one_succeeds(
    foyer_app, client, user, oidc_client
):
    model, secret = oidc_client
    refresh = tokens_for(client, user, model, secret)["refresh_token"]
    statuses = race(
        foyer_app,
        20,
        lambda browser: (
            token_request(
                browser, model, secret, grant_type="refresh_token", refresh_token=refresh
            ).status_code
        ),
    )
    assert statuses.count(200) <= 1 and set(statuses) <= {200, 400}
    assert len(statuses) == 20


# --- Input -----------------------------------------------------------------------------------


def test_i05_line_breaks_in_a_users_name_never_reach_a_mail_header(client, make_user, mails):
    make_user(email="eve@example.com", name="Eve\r\nBcc: spy@attacker.test", email_verified=True)
    page = client.get("/password/reset")
    submit_form(client, page, "reset-request-form", email="eve@example.com")
    sent = mails()
    assert sent, "no reset email"
    for message in sent:
        mime = build_mime(message, "Foyer <no-reply@login.test>")
        for name, value in mime.items():
            assert "\n" not in str(value) and "\r" not in str(value), name
        assert mime["Bcc"] is None and "spy@attacker.test" not in str(mime["To"])
        assert "\n" not in message.subject


HOSTILE_TARGETS = [
    "//attacker.test/",
    "/\\attacker.test/",
    "http://localhost:80@attacker.test/",
    "..%252f..%252fattacker.test",
    "https://attacker.test/",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_i09_no_page_sends_the_browser_where_a_next_or_return_to_parameter_says(
    client, user, oidc_client, target
):
    """Foyer's pages take no ``next``/``return_to``; given one anyway, none redirects to it,
    signed in or not, nor to the post-logout URI when it is hostile."""
    model, _secret = oidc_client
    pages = ["/login", "/logout", "/login/done", "/account", "/password/reset", "/signup"]
    for signed_in in (False, True):
        if signed_in:
            sign_in(client, user)
        for path in pages:
            for name in ("next", "return_to", "redirect", "continue"):
                answer = client.get(path, query_string={name: target})
                location = answer.headers.get("Location", "")
                assert not location or urllib.parse.urlsplit(location).netloc in (
                    "",
                    "login.test",
                ), (path, name, location)
                assert "attacker.test" not in location
    answer = client.get(
        "/oidc/logout",
        query_string={"post_logout_redirect_uri": target, "client_id": model.client_id},
    )
    assert "attacker.test" not in answer.headers.get("Location", "")
