"""Every check of an upstream ID token, with tokens the real IdP would never issue, signed
with its own key (so only the check under test can refuse them), and the key set's refetch
on an unknown key id."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwk import OctKey
from joserfc.jwk import RSAKey

from app.connections.strategies import UpstreamError
from app.strategies import oidc_metadata
from app.strategies.oidc import LEEWAY
from app.strategies.oidc import check_id_token


@pytest.fixture
def keys(upstream_idp) -> KeySet:
    return KeySet.import_key_set({"keys": [upstream_idp.signing_key.as_dict(private=False)]})


def claims(idp, **changes):
    now = int(time.time())
    base = {
        "iss": idp.issuer,
        "sub": "ada",
        "aud": "foyer-basic",
        "exp": now + 300,
        "iat": now,
        "nonce": "the-nonce",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def check(token, keys, idp, **more):
    return check_id_token(
        token,
        keys,
        ["RS256"],
        issuer=idp.issuer,
        client_id="foyer-basic",
        nonce=more.pop("nonce", "the-nonce"),
        **more,
    )


def test_a_good_token_passes(upstream_idp, keys):
    token = upstream_idp.forge_id_token(claims(upstream_idp))
    assert check(token, keys, upstream_idp)["sub"] == "ada"


@pytest.mark.parametrize(
    ("changes", "what"),
    [
        ({"aud": "another-client"}, "aud"),
        ({"aud": ["foyer-basic", "other"]}, "azp"),  # several audiences need azp
        ({"aud": ["foyer-basic", "other"], "azp": "other"}, "azp"),
        ({"azp": "other"}, "azp"),
        ({"nonce": "another-nonce"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"iss": "https://evil.example"}, "iss"),
        ({"exp": -LEEWAY - 5}, "exp"),  # seconds from now, counted when the test runs
        ({"iat": LEEWAY + 120}, "iat"),
        ({"sub": None}, "sub"),
    ],
)
def test_each_claim_check_refuses(upstream_idp, keys, changes, what):
    now = int(time.time())
    changes = {k: now + v if k in ("exp", "iat") else v for k, v in changes.items()}
    token = upstream_idp.forge_id_token(claims(upstream_idp, **changes))
    with pytest.raises(UpstreamError) as refused:
        check(token, keys, upstream_idp)
    assert refused.value.code == "invalid_response"
    assert what in refused.value.detail


def test_small_clock_differences_are_tolerated(upstream_idp, keys):
    now = int(time.time())
    token = upstream_idp.forge_id_token(claims(upstream_idp, exp=now - 30, iat=now + 30))
    assert check(token, keys, upstream_idp)["sub"] == "ada"


def test_a_signature_by_another_key_with_the_same_kid_is_refused(upstream_idp, keys):
    impostor = RSAKey.generate_key(2048, parameters={"kid": upstream_idp.signing_key.kid})
    token = upstream_idp.forge_id_token(claims(upstream_idp), key=impostor)
    with pytest.raises(UpstreamError, match="signature"):
        check(token, keys, upstream_idp)


def test_symmetric_and_unsigned_tokens_are_refused(upstream_idp, keys):
    secret = OctKey.import_key("the client secret the attacker guessed, long enough")
    hs = jwt.encode({"alg": "HS256"}, claims(upstream_idp), secret)
    with pytest.raises(UpstreamError):
        check(hs, keys, upstream_idp)
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    body = base64.urlsafe_b64encode(json.dumps(claims(upstream_idp)).encode()).rstrip(b"=")
    with pytest.raises(UpstreamError):
        check(f"{header}.{body.decode()}.", keys, upstream_idp)


def test_max_age_needs_a_recent_auth_time(upstream_idp, keys):
    old = upstream_idp.forge_id_token(claims(upstream_idp, auth_time=int(time.time()) - 3600))
    with pytest.raises(UpstreamError, match="auth_time"):
        check(old, keys, upstream_idp, max_age=60)
    missing = upstream_idp.forge_id_token(claims(upstream_idp))
    with pytest.raises(UpstreamError, match="auth_time"):
        check(missing, keys, upstream_idp, max_age=60)
    recent = upstream_idp.forge_id_token(claims(upstream_idp, auth_time=int(time.time()) - 10))
    assert check(recent, keys, upstream_idp, max_age=60)["sub"] == "ada"


def test_an_unknown_kid_refetches_the_keys_once_rate_limited(foyer_app, upstream_idp, monkeypatch):
    oidc_metadata.clear()
    fetched = []
    real = oidc_metadata.get_json

    def counting(url, *args, **kwargs):
        fetched.append(url)
        return real(url, *args, **kwargs)

    monkeypatch.setattr(oidc_metadata, "get_json", counting)
    jwks = f"{upstream_idp.issuer}/jwks"
    oidc_metadata.key_set(jwks, 3600, 5)
    oidc_metadata.key_set(jwks, 3600, 5)
    assert len(fetched) == 1  # cached
    oidc_metadata.key_set(jwks, 3600, 5, unknown_kid=True)
    assert len(fetched) == 2  # one refetch for an unknown key id
    for _ in range(5):
        oidc_metadata.key_set(jwks, 3600, 5, unknown_kid=True)
    assert len(fetched) == 2  # forged key ids cannot make Foyer hammer the IdP
    oidc_metadata.clear()


def test_discovery_is_cached_and_a_failing_refresh_keeps_the_last_good_one(
    foyer_app,
    upstream_idp,
    monkeypatch,  # foyer_app: its settings allow loopback
):
    oidc_metadata.clear()
    first = oidc_metadata.discovery(upstream_idp.issuer, 60, 5)
    clock = [time.monotonic() + 120]  # the document is older than its ttl
    monkeypatch.setattr(oidc_metadata.time, "monotonic", lambda: clock[0])

    def down(*args, **kwargs):
        raise UpstreamError("upstream_unavailable", "down")

    monkeypatch.setattr(oidc_metadata, "get_json", down)
    assert oidc_metadata.discovery(upstream_idp.issuer, 60, 5) == first
    clock[0] += oidc_metadata.STALE_FOR
    with pytest.raises(UpstreamError):
        oidc_metadata.discovery(upstream_idp.issuer, 60, 5)
    oidc_metadata.clear()


def test_an_oversized_answer_is_not_read_whole(foyer_app):  # its settings allow loopback
    """An IdP answering megabytes is refused after MAX_DOCUMENT bytes."""

    class Huge(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                self.wfile.write(b'{"keys": [' + b" " * (oidc_metadata.MAX_DOCUMENT * 4))
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Huge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(UpstreamError, match="too large"):
            oidc_metadata.get_json(f"http://127.0.0.1:{server.server_address[1]}/", 5)
    finally:
        server.shutdown()
