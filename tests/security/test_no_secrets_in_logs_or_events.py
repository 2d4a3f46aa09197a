"""No secret reaches a log line or an event (A-11, ASVS 16.3): a full run, every logger at
DEBUG, every event row, searched for every secret the run used.

The run goes through every page and endpoint that handles a secret: sign-up with the emailed
code, sign-in with the password (wrong ones first), two-step verification set up at sign-in
and then answered with the authenticator's code and with a recovery code, a password reset
by its emailed link, an email verification link, an invitation for a new person and one for
an existing account, changing the password, ``/authorize`` with PKCE, the token endpoint
(code, then refresh), introspection and revocation, RP-initiated logout with back-channel
logout to a real relying party, the logout page, and a brute-force block lifted by its
emailed link. Emails go through a real SMTP server. Everything any logger emits (the root
at DEBUG and every named logger at DEBUG, SQLAlchemy's statements and parameters included),
everything written to the process's stdout and stderr, and every column of every event row
must be free of each password, code, token, secret and session cookie value the run used,
and of the session ids and password hashes the database holds.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import types
import typing as t
import urllib.parse

import pyotp
import pytest
import sqlalchemy as sa

from app.accounts import mfa
from app.accounts.background import wait_for_background
from app.accounts.models import User
from app.db import session
from app.events.models import Event
from app.oidc.backchannel import deliveries_of
from app.orgs import invitations
from app.sessions.models import SsoSession
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import pkce_pair
from app.testing import submit_form
from e2e.mailbox import code_in
from e2e.mailbox import link_in
from e2e.mailbox import text_of
from tests.accounts.conftest import path_of
from tests.security.conftest import enter_code
from tests.security.conftest import signup
from tests.security.test_backchannel_logout import RelyingParty

SIGNUP_PASSWORD = "nia's first passphrase, typed at sign-up"
RESET_PASSWORD = "nia's second passphrase, chosen after a reset"
CHANGED_PASSWORD = "nia's third passphrase, chosen on the account page"
INVITE_PASSWORD = "the new hire's own passphrase"
WRONG_PASSWORDS = [f"a wrong guess number {n}, quite long" for n in range(12)]
SCOPE = "openid profile email offline_access"
RECIPIENT_LOGGERS = ("mail.log",)
"""The test's SMTP server (aiosmtpd), standing for the recipients' mailboxes: it logs the
messages it receives, which carry their own codes and links by design."""


class LogCapture(logging.Handler):
    """Every record of every logger, formatted, with its extra attributes and traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(RECIPIENT_LOGGERS):
            return
        try:
            message = record.getMessage()
        except Exception as error:  # noqa: BLE001 - a bad format string is still searched
            message = f"{record.msg!r} {record.args!r} ({error})"
        extra = {k: v for k, v in vars(record).items() if k not in ("msg", "args", "exc_info")}
        text = f"{record.name} {record.levelname} {message} {extra!r}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@pytest.fixture
def every_log() -> t.Iterator[LogCapture]:
    """Every logger at DEBUG into one capture: the root, and each named logger (those that
    do not propagate get the handler too)."""
    capture = LogCapture()
    root = logging.getLogger()
    saved = {"": (root.level, root.disabled)}
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    attached: list[logging.Logger] = []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        saved[name] = (logger.level, logger.disabled)
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if not logger.propagate:
            logger.addHandler(capture)
            attached.append(logger)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        for logger in attached:
            logger.removeHandler(capture)
        for name, (level, disabled) in saved.items():
            logger = logging.getLogger(name) if name else root
            logger.setLevel(level)
            logger.disabled = disabled


class Secrets:
    """Every secret the run used, by what it is."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, kind: str, *values: str | None) -> None:
        for value in values:
            if value:
                self.items.append((kind, value))

    def found_in(self, haystack: str) -> list[str]:
        """The kinds of secret found in ``haystack`` (as typed, or URL-encoded), each with
        the start of the first line that holds it."""
        found = []
        for kind, value in self.items:
            forms = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
            if value.replace(" ", "").isdigit():
                # A short code counts only as a word of its own, typed with or without its
                # space: not as the digits inside a longer number, a decimal fraction or a
                # hexadecimal address (SQLAlchemy logs "cached since 12.123456s ago" and
                # "<Connection at 0x7fa066671b0>").
                typed = {value, value.replace(" ", "")}
                pattern = "|".join(
                    rf"(?<![0-9A-Za-z.]){re.escape(form)}(?![0-9A-Za-z])" for form in typed
                )
            else:
                pattern = "|".join(re.escape(form) for form in forms)
            match = re.search(pattern, haystack)
            if match:
                start = haystack.rfind("\n", 0, match.start()) + 1
                found.append(f"{kind} ({value[:12]}) in: {haystack[start : start + 160]}")
        return found


class Browsers:
    """Test browsers whose every cookie, sent or set, is noted as a secret."""

    def __init__(self, app: t.Any, secrets: Secrets) -> None:
        self.app = app
        self.secrets = secrets

    def new(self, ip: str = "198.51.100.20") -> t.Any:
        browser = host_client(self.app)
        browser.environ_base["REMOTE_ADDR"] = ip
        opened = browser.open
        secrets = self.secrets

        def open(*args: t.Any, **kwargs: t.Any) -> t.Any:
            for cookie in browser._cookies.values():
                secrets.add(f"cookie {cookie.key}", cookie.value)
            response = opened(*args, **kwargs)
            for header in response.headers.getlist("Set-Cookie"):
                name, _, rest = header.partition("=")
                secrets.add(f"cookie {name}", rest.split(";", 1)[0])
            return response

        browser.open = open
        return browser


def text(response: t.Any) -> str:
    return response.get_data(as_text=True)


def query_of(location: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def login_to(browser: t.Any, location: str, email: str, password: str) -> t.Any:
    """From a ``/login`` location: the identifier, then the password; the password form's
    answer."""
    page = browser.get(location, follow_redirects=True)
    step = submit_form(browser, page, "login-identifier-form", identifier=email)
    assert step.status_code == 303, text(step)
    page = browser.get(step.headers["Location"])
    return submit_form(browser, page, "login-password-form", password=password)


def basic(model: t.Any, secret: str) -> dict[str, str]:
    pair = f"{model.client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


@pytest.fixture
def foyer_config(foyer_config):
    return {**foyer_config, "rate_limit_login": "1000 per minute"}


@pytest.fixture
def mfa_clock(monkeypatch) -> types.SimpleNamespace:
    """The time the two-step code checks see, moved by the test."""
    clock = types.SimpleNamespace(now=time.time())
    monkeypatch.setattr(mfa, "time", types.SimpleNamespace(time=lambda: clock.now))
    return clock


def test_a_full_run_leaves_no_secret_in_logs_or_events(
    foyer_app,
    tenant,
    connection,
    open_signup,
    make_client,
    make_user,
    make_organization,
    mailbox,
    mfa_clock,
    every_log,
    capfd,
):
    secrets = Secrets()
    browsers = Browsers(foyer_app, secrets)
    rp = RelyingParty()
    try:
        model, client_secret = make_client(
            name="Back-channel app",
            post_logout_redirect_uris=["https://app.test/signed-out"],
            settings={
                "backchannel_logout_uri": rp.uri,
                "backchannel_logout_session_required": True,
            },
        )
        secrets.add("client secret", client_secret)
        secrets.add("password", SIGNUP_PASSWORD, RESET_PASSWORD, CHANGED_PASSWORD)
        secrets.add("password", INVITE_PASSWORD, USER_PASSWORD, *WRONG_PASSWORDS)

        # --- sign-up with the emailed code (a wrong code first) ---------------------------
        laptop = browsers.new()
        assert signup(laptop, "nia@example.com", SIGNUP_PASSWORD, name="Nia").status_code == 303
        code = code_in(mailbox.wait_for("nia@example.com", "Your code"))
        secrets.add("sign-up code", code, code.replace(" ", ""))
        wrong_code = "1111 2222" if code != "1111 2222" else "3333 4444"
        secrets.add("sign-up code", wrong_code.replace(" ", ""))
        assert enter_code(laptop, wrong_code).status_code == 400
        assert enter_code(laptop, code).status_code == 303

        # --- /authorize, the password (a wrong one first), two-step set-up at sign-in ------
        tenant.settings = {**(tenant.settings or {}), "require_two_step": True}
        session.commit()

        def start(browser: t.Any) -> tuple[t.Any, str]:
            verifier, challenge = pkce_pair()
            secrets.add("PKCE verifier", verifier)
            answer = browser.get(
                "/authorize",
                query_string={
                    "response_type": "code",
                    "client_id": model.client_id,
                    "redirect_uri": model.redirect_uris[0],
                    "scope": SCOPE,
                    "state": "state-of-the-run",
                    "nonce": "nonce-of-the-run",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            )
            assert answer.status_code in (302, 303), text(answer)
            return answer, verifier

        def finish(browser: t.Any, answer: t.Any, verifier: str) -> dict[str, str]:
            location = answer.headers["Location"]
            assert location.startswith(model.redirect_uris[0]), location
            code = query_of(location)["code"]
            secrets.add("authorization code", code)
            tokens = browser.post(
                "/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": model.redirect_uris[0],
                    "code_verifier": verifier,
                },
                headers=basic(model, client_secret),
            ).get_json()
            assert "access_token" in tokens, tokens
            secrets.add("access token", tokens["access_token"])
            secrets.add("refresh token", tokens.get("refresh_token"))
            secrets.add("ID token", tokens["id_token"])
            return tokens

        answer, verifier = start(laptop)
        wrong = login_to(laptop, answer.headers["Location"], "nia@example.com", WRONG_PASSWORDS[0])
        assert wrong.status_code == 400
        step = login_to(laptop, answer.headers["Location"], "nia@example.com", SIGNUP_PASSWORD)
        assert step.headers["Location"].startswith("/login/mfa/setup?tx=")
        page = laptop.get(step.headers["Location"])
        totp_secret = re.search(r'id="totp-secret"[^>]*>([^<]+)<', text(page)).group(1)
        totp = pyotp.TOTP(totp_secret.replace(" ", ""))
        secrets.add("TOTP secret", totp_secret, totp_secret.replace(" ", ""), totp.secret)
        wrong_totp = "000000" if totp.at(mfa_clock.now) != "000000" else "999999"
        secrets.add("TOTP code", wrong_totp)
        assert submit_form(laptop, page, "mfa-setup-form", code=wrong_totp).status_code == 400
        first_totp = totp.at(mfa_clock.now)
        secrets.add("TOTP code", first_totp)
        done = submit_form(laptop, page, "mfa-setup-form", code=first_totp)
        assert done.status_code == 303, text(done)
        codes_page = laptop.get(done.headers["Location"])
        recovery = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", text(codes_page))
        assert len(recovery) == mfa.RECOVERY_CODES
        secrets.add("recovery code", *recovery, *(c.replace("-", "") for c in recovery))
        went_on = submit_form(laptop, codes_page, "mfa-continue-form")
        laptop_tokens = finish(laptop, went_on, verifier)

        # --- refresh, introspect, revoke ----------------------------------------------------
        refreshed = laptop.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": laptop_tokens["refresh_token"]},
            headers=basic(model, client_secret),
        ).get_json()
        assert "access_token" in refreshed, refreshed
        secrets.add("access token", refreshed["access_token"])
        secrets.add("refresh token", refreshed["refresh_token"])
        secrets.add("ID token", refreshed.get("id_token"))
        for token in (refreshed["access_token"], refreshed["refresh_token"], "not-a-token"):
            info = laptop.post(
                "/oauth/introspect", data={"token": token}, headers=basic(model, client_secret)
            )
            assert info.status_code == 200
        replayed = laptop.post(  # the rotated one: the family ends, an event says so
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": laptop_tokens["refresh_token"]},
            headers=basic(model, client_secret),
        )
        assert replayed.status_code == 400

        # --- the authenticator's code, then a recovery code, at later sign-ins -------------
        phone = browsers.new("198.51.100.21")
        answer, verifier = start(phone)
        step = login_to(phone, answer.headers["Location"], "nia@example.com", SIGNUP_PASSWORD)
        assert step.headers["Location"].startswith("/login/mfa?tx=")
        mfa_clock.now += totp.interval
        challenge = phone.get(step.headers["Location"])
        secrets.add("TOTP code", "123456")
        assert submit_form(phone, challenge, "mfa-form", code=wrong_totp).status_code == 400
        second_totp = totp.at(mfa_clock.now)
        secrets.add("TOTP code", second_totp)
        passed = submit_form(phone, challenge, "mfa-form", code=second_totp)
        assert passed.status_code == 303, text(passed)
        phone_tokens = finish(phone, passed, verifier)
        revoked = phone.post(
            "/oauth/revoke",
            data={"token": phone_tokens["refresh_token"], "token_type_hint": "refresh_token"},
            headers=basic(model, client_secret),
        )
        assert revoked.status_code == 200

        tablet = browsers.new("198.51.100.22")
        answer, verifier = start(tablet)
        step = login_to(tablet, answer.headers["Location"], "nia@example.com", SIGNUP_PASSWORD)
        challenge = tablet.get(step.headers["Location"])
        passed = submit_form(tablet, challenge, "mfa-form", code=recovery[0].upper())
        assert passed.status_code == 303, text(passed)
        finish(tablet, passed, verifier)
        page = tablet.get("/logout")  # the logout page
        assert submit_form(tablet, page, "logout-form").status_code == 303

        # --- a password reset by its emailed link -------------------------------------------
        stranger = browsers.new("198.51.100.23")
        page = stranger.get("/password/reset")
        assert (
            submit_form(stranger, page, "reset-request-form", email="nia@example.com").status_code
            == 303
        )
        link = link_in(mailbox.wait_for("nia@example.com", "password"))
        secrets.add("reset token", query_of(link)["token"])
        form = stranger.get(path_of(link))
        assert form.status_code == 200
        reset = submit_form(stranger, form, "reset-password-form", new_password=RESET_PASSWORD)
        assert reset.status_code == 303, text(reset)

        # --- an email verification link, opened in another browser -------------------------
        make_user(email="omar@example.com", password=USER_PASSWORD, email_verified=False)
        omar = browsers.new("198.51.100.24")
        page = omar.get("/email/verify/resend")
        submit_form(omar, page, "resend-verification-form", email="omar@example.com")
        link = link_in(mailbox.wait_for("omar@example.com", ""))
        secrets.add("verification token", query_of(link)["token"])
        page = browsers.new("198.51.100.25").get(path_of(link))
        verify = browsers.new("198.51.100.25")
        page = verify.get(path_of(link))
        wrong = submit_form(verify, page, "verify-email-form", password=WRONG_PASSWORDS[1])
        assert wrong.status_code == 400
        assert (
            submit_form(verify, page, "verify-email-form", password=USER_PASSWORD).status_code
            == 303
        )

        # --- invitations: a new person, and an existing account -----------------------------
        make_organization("globex", "Globex", connections=[connection])
        shared = make_organization("umbrella", "Umbrella", connections=[connection])
        for address in ("new.hire@example.com", "nia@example.com"):
            sent = invitations.invite(shared, address, ["member"], invited_by="Olivia")
            assert sent.delivered
            secrets.add("invitation token", query_of(sent.link)["token"])
        invited = browsers.new("198.51.100.26")
        link = path_of(link_in(mailbox.wait_for("new.hire@example.com", "")))
        accepted = submit_form(
            invited,
            invited.get(link),
            "accept-invitation-form",
            name="New Hire",
            new_password=INVITE_PASSWORD,
        )
        assert accepted.status_code == 303, text(accepted)
        nia_link = [m for m in mailbox.messages if m["To"] == "nia@example.com"][-1]
        link = path_of(link_in(nia_link))
        joined = browsers.new("198.51.100.27")
        page = joined.get(link)
        wrong = submit_form(joined, page, "accept-invitation-form", password=WRONG_PASSWORDS[2])
        assert wrong.status_code == 400
        ok = submit_form(joined, page, "accept-invitation-form", password=RESET_PASSWORD)
        assert ok.status_code == 303, text(ok)

        # --- change the password on the account page ----------------------------------------
        answer, verifier = start(laptop)  # the reset ended every session: sign in again
        step = login_to(laptop, answer.headers["Location"], "nia@example.com", RESET_PASSWORD)
        mfa_clock.now += totp.interval
        third_totp = totp.at(mfa_clock.now)
        secrets.add("TOTP code", third_totp)
        passed = submit_form(
            laptop, laptop.get(step.headers["Location"]), "mfa-form", code=third_totp
        )
        laptop_tokens = finish(laptop, passed, verifier)
        page = laptop.get("/account/password")
        changed = submit_form(
            laptop,
            page,
            "change-password-form",
            current_password=RESET_PASSWORD,
            new_password=CHANGED_PASSWORD,
            confirm_password=CHANGED_PASSWORD,
        )
        assert changed.status_code == 303, text(changed)

        # --- RP-initiated logout, with back-channel logout to the relying party --------------
        out = laptop.get(
            "/oidc/logout",
            query_string={
                "id_token_hint": laptop_tokens["id_token"],
                "post_logout_redirect_uri": "https://app.test/signed-out",
            },
        )
        assert out.status_code == 302
        assert deliveries_of(foyer_app).wait()
        assert rp.received.wait(10)
        secrets.add("logout token", *rp.tokens)

        # --- a brute-force block, lifted by the emailed link --------------------------------
        attacker = browsers.new("203.0.113.99")
        for guess in WRONG_PASSWORDS[2:12]:
            assert login_to(attacker, "/login", "nia@example.com", guess).status_code == 400
        link = link_in(mailbox.wait_for("nia@example.com", "failed sign-ins"))
        secrets.add("unblock token", query_of(link)["token"])
        page = attacker.get(path_of(link))
        assert submit_form(attacker, page, "unblock-form").status_code == 303

        assert wait_for_background(foyer_app, timeout=30)
        assert deliveries_of(foyer_app).wait()
    finally:
        rp.close()

    session_ids = session.scalars(sa.select(SsoSession.sid)).all()
    assert len(session_ids) >= 4
    secrets.add("session id", *session_ids)
    secrets.add("password hash", *session.scalars(sa.select(User.password_hash)).all())
    kinds = {kind for kind, _ in secrets.items}
    for needed in (
        "password",
        "sign-up code",
        "TOTP code",
        "recovery code",
        "reset token",
        "verification token",
        "invitation token",
        "unblock token",
        "authorization code",
        "access token",
        "refresh token",
        "ID token",
        "client secret",
        "logout token",
        "PKCE verifier",
        "cookie __Host-foyer_session",
        "session id",
        "password hash",
    ):
        assert needed in kinds, needed
    assert len(every_log.lines) > 100  # the capture saw the run (SQL statements included)
    logs = "\n".join(every_log.lines)
    out, err = capfd.readouterr()
    events = [
        json.dumps({c.name: getattr(row, c.name) for c in Event.__table__.columns}, default=str)
        for row in session.scalars(sa.select(Event))
    ]
    assert len(events) > 30
    for where, haystack in (("logs", logs), ("output", out + err), ("events", "\n".join(events))):
        found = secrets.found_in(haystack)
        assert not found, f"secrets in the {where}:\n" + "\n".join(found)
    for message in mailbox.messages:  # an email carries no password, token of the run's apps
        body = text_of(message)
        leaked = [
            kind
            for kind in secrets.found_in(body)
            if not kind.startswith(("sign-up code", "reset token", "verification token"))
            and not kind.startswith(("invitation token", "unblock token"))
        ]
        assert leaked == [], (message["Subject"], leaked)
