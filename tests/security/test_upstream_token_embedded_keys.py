"""F-10: an upstream ID token is checked only with the keys of the configured JWKS. A key
the token carries itself (``jwk``, ``x5c``) or points to (``jku``, ``x5u``) is never used,
whatever ``kid`` it names."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from app.connections.strategies import UpstreamError
from app.strategies.oidc import check_id_token
from app.strategies.saml_keys import new_key_pair

ISSUER = "https://idp.example"


def claims() -> dict:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "sub": "ada",
        "aud": "foyer",
        "exp": now + 300,
        "iat": now,
        "nonce": "n",
    }


@pytest.fixture
def configured() -> tuple[RSAKey, KeySet]:
    key = RSAKey.generate_key(2048, parameters={"kid": "idp-1"})
    return key, KeySet.import_key_set({"keys": [key.as_dict(private=False)]})


def check(token: str, keys: KeySet) -> dict:
    return check_id_token(token, keys, ["RS256"], issuer=ISSUER, client_id="foyer", nonce="n")


def test_the_configured_key_passes(configured):
    key, keys = configured
    token = jwt.encode({"alg": "RS256", "kid": "idp-1"}, claims(), key)
    assert check(token, keys)["sub"] == "ada"


@pytest.mark.parametrize("kid", ["idp-1", "attacker", None])
def test_a_key_embedded_as_jwk_is_ignored(configured, kid):
    _key, keys = configured
    attacker = RSAKey.generate_key(2048, parameters={"kid": kid or "attacker"})
    header = {"alg": "RS256", "jwk": attacker.as_dict(private=False)}
    if kid:
        header["kid"] = kid
    token = jwt.encode(header, claims(), attacker)
    with pytest.raises(UpstreamError):
        check(token, keys)


def test_a_certificate_chain_or_key_url_in_the_header_is_ignored(configured):
    _key, keys = configured
    pem_key, pem_cert, _ = new_key_pair("attacker")
    attacker = RSAKey.import_key(pem_key, parameters={"kid": "idp-1"})
    der = x509.load_pem_x509_certificate(pem_cert.encode()).public_bytes(
        encoding=serialization.Encoding.DER
    )
    header = {
        "alg": "RS256",
        "kid": "idp-1",
        "x5c": [base64.b64encode(der).decode()],
        "jku": "https://attacker.example/jwks",
        "x5u": "https://attacker.example/cert.pem",
    }
    token = jwt.encode(header, claims(), attacker)
    with pytest.raises(UpstreamError):
        check(token, keys)
