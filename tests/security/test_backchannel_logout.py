"""OpenID Connect Back-Channel Logout 1.0: the end of a session reaches the applications.

A test relying party (a real HTTP server on a free loopback port) receives the logout
token and verifies it with the tenant's JWKS, as an application would: signature, ``typ``,
``iss``, ``aud``, ``iat``/``exp``, ``jti``, exactly one ``events`` member, ``sub`` and the
``sid`` of its ID token, no ``nonce``. A slow, dead or refusing relying party never slows
or breaks the logout page: delivery happens after the answer, failures are retried from
the outbox table, and a refusal is given up with an event.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import typing as t
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from app.clients.services import ClientInvalid
from app.db import session
from app.db import utcnow
from app.oidc.backchannel import deliver_due
from app.oidc.backchannel import deliveries_of
from app.oidc.models import BackchannelLogout
from app.testing import USER_PASSWORD
from app.testing import authorize
from app.testing import decode_jwt
from app.testing import exchange_code
from app.testing import login
from app.testing import submit_form

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class RelyingParty:
    """A relying party's back-channel logout endpoint: answers each POST with the next
    status of ``answers`` (the last one repeats) and keeps the logout tokens it got."""

    def __init__(self, answers: t.Sequence[int] = (200,), delay: float = 0.0) -> None:
        self.answers = list(answers)
        self.delay = delay
        self.tokens: list[str] = []
        self.received = threading.Event()
        rp = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                time.sleep(rp.delay)
                rp.tokens.append(form.get("logout_token", [""])[0])
                status = rp.answers.pop(0) if len(rp.answers) > 1 else rp.answers[0]
                self.send_response(status)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()
                rp.received.set()

            def log_message(self, *args: t.Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/backchannel-logout"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def relying_party() -> t.Iterator[RelyingParty]:
    rp = RelyingParty()
    yield rp
    rp.close()


@pytest.fixture
def make_rp_client(make_client):
    def make(uri: str, **settings: t.Any):
        return make_client(
            name="Back-channel app",
            post_logout_redirect_uris=["https://app.test/signed-out"],
            settings={
                "backchannel_logout_uri": uri,
                "backchannel_logout_session_required": True,
                **settings,
            },
        )

    return make


def signed_in_tokens(browser, model, secret, email):
    assert login(browser, email, USER_PASSWORD).status_code == 303
    result = authorize(browser, model, scope="openid profile email offline_access")
    response = exchange_code(browser, model, result, secret)
    assert response.status_code == 200
    return response.get_json()


def sign_out(browser) -> tuple[t.Any, float]:
    started = time.monotonic()
    answer = submit_form(browser, browser.get("/logout"), "logout-form")
    return answer, time.monotonic() - started


def verify_logout_token(client, token: str, model) -> dict[str, t.Any]:
    """What the relying party does with a logout token (Back-Channel Logout 1.0 §2.6)."""
    keyset = KeySet.import_key_set(client.get("/.well-known/jwks.json").get_json())
    decoded = jwt.decode(token, keyset, algorithms=["RS256", "ES256"])
    assert decoded.header["typ"] == "logout+jwt"
    claims = dict(decoded.claims)
    JWTClaimsRegistry(
        iss={"essential": True, "value": "https://login.test"},
        aud={"essential": True, "value": model.client_id},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
        sid={"essential": True},
        sub={"essential": True},
    ).validate(claims)
    now = time.time()
    assert claims["iat"] <= now + 5 and claims["iat"] > now - 86400
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert claims["events"] == {LOGOUT_EVENT: {}}
    assert "nonce" not in claims
    return claims


def test_discovery_advertises_back_channel_logout(client, tenant):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True
    assert metadata["end_session_endpoint"] == "https://login.test/oidc/logout"


def test_a_logout_token_reaches_the_relying_party_and_verifies_with_the_jwks(
    foyer_app, client, user, relying_party, make_rp_client
):
    model, secret = make_rp_client(relying_party.uri)
    tokens = signed_in_tokens(client, model, secret, user.email)
    id_token = decode_jwt(client, tokens["id_token"])
    assert id_token["sid"]  # the session is named in ID tokens

    answer, _took = sign_out(client)
    assert answer.status_code == 303
    assert deliveries_of(foyer_app).wait()
    assert relying_party.received.wait(5)
    [token] = relying_party.tokens
    claims = verify_logout_token(client, token, model)
    assert claims["sid"] == id_token["sid"]
    assert claims["sub"] == id_token["sub"] == user.id
    row = session.scalar(sa.select(BackchannelLogout))
    session.refresh(row)
    assert (row.status, row.attempts) == ("delivered", 1)


def test_rp_initiated_logout_sends_it_too(foyer_app, client, user, relying_party, make_rp_client):
    model, secret = make_rp_client(relying_party.uri)
    tokens = signed_in_tokens(client, model, secret, user.email)
    answer = client.get(
        "/oidc/logout",
        query_string={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://app.test/signed-out",
        },
    )
    assert answer.status_code == 302
    assert deliveries_of(foyer_app).wait()
    assert relying_party.received.wait(5)
    claims = verify_logout_token(client, relying_party.tokens[0], model)
    assert claims["sid"] == decode_jwt(client, tokens["id_token"])["sid"]


def test_every_application_of_the_session_gets_its_own_token(
    foyer_app, client, user, make_rp_client, oidc_client
):
    first, second = RelyingParty(), RelyingParty()
    try:
        one, one_secret = make_rp_client(first.uri)
        two, two_secret = make_rp_client(second.uri)
        signed_in_tokens(client, one, one_secret, user.email)
        exchange_code(client, two, authorize(client, two), two_secret)
        plain, plain_secret = oidc_client  # no back-channel URI: nothing for it
        exchange_code(client, plain, authorize(client, plain), plain_secret)
        sign_out(client)
        assert deliveries_of(foyer_app).wait()
        assert first.received.wait(5) and second.received.wait(5)
        assert verify_logout_token(client, first.tokens[0], one)["aud"] == one.client_id
        assert verify_logout_token(client, second.tokens[0], two)["aud"] == two.client_id
        assert session.scalar(sa.select(sa.func.count()).select_from(BackchannelLogout)) == 2
    finally:
        first.close()
        second.close()


def test_a_dead_relying_party_never_slows_the_logout_page_and_is_retried(
    foyer_app, client, user, make_rp_client
):
    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    try:
        model, secret = make_rp_client(f"http://127.0.0.1:{port}/logout")
        signed_in_tokens(client, model, secret, user.email)
        answer, took = sign_out(client)
        assert answer.status_code == 303
        assert took < 1.0  # the 3-second read timeout runs in the worker, not the page
        assert client.get("/logout").status_code == 200
        assert deliveries_of(foyer_app).wait()
    finally:
        silent.close()
    row = session.scalar(sa.select(BackchannelLogout))
    session.refresh(row)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "ReadTimeout"
    assert row.next_attempt_at > utcnow() + dt.timedelta(seconds=5)  # the first retry delay

    # the application comes back on the same address: the retry delivers
    rp = RelyingParty()
    try:
        row.uri = rp.uri
        row.next_attempt_at = utcnow()
        session.commit()
        deliver_due()
        assert rp.received.wait(5)
        verify_logout_token(client, rp.tokens[0], model)
        session.refresh(row)
        assert (row.status, row.attempts) == ("delivered", 2)
    finally:
        rp.close()


def test_failures_are_retried_until_the_relying_party_answers(
    foyer_app, client, user, make_rp_client
):
    rp = RelyingParty(answers=(503, 500, 200))
    try:
        model, secret = make_rp_client(rp.uri)
        signed_in_tokens(client, model, secret, user.email)
        sign_out(client)
        assert deliveries_of(foyer_app).wait()
        row = session.scalar(sa.select(BackchannelLogout))
        for expected in (1, 2):
            session.refresh(row)
            assert (row.status, row.attempts, row.last_error) == (
                "pending",
                expected,
                f"HTTP {503 if expected == 1 else 500}",
            )
            row.next_attempt_at = utcnow()  # the retry delay has passed
            session.commit()
            deliver_due()
        session.refresh(row)
        assert (row.status, row.attempts) == ("delivered", 3)
        assert len({verify_logout_token(client, tok, model)["jti"] for tok in rp.tokens}) == 1
    finally:
        rp.close()


def test_a_refusal_is_given_up_with_an_event(
    foyer_app, client, user, make_rp_client, recorded_events
):
    rp = RelyingParty(answers=(400,))
    try:
        model, secret = make_rp_client(rp.uri)
        signed_in_tokens(client, model, secret, user.email)
        sign_out(client)
        assert deliveries_of(foyer_app).wait()
    finally:
        rp.close()
    row = session.scalar(sa.select(BackchannelLogout))
    session.refresh(row)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "HTTP 400")
    [event] = recorded_events("backchannel_logout_failed")
    assert event.client_id == model.client_id
    assert event.data["error"] == "HTTP 400"


def test_the_uri_must_be_https_or_loopback(make_client):

    for uri in ("http://rp.example/logout", "javascript:alert(1)", "https://u:p@rp.test/x"):
        with pytest.raises(ClientInvalid):
            make_client(name="Bad", settings={"backchannel_logout_uri": uri})
    assert make_client(name="Good", settings={"backchannel_logout_uri": "https://rp.test/bc"})
