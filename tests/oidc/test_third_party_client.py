"""A strict third-party relying party against a real HTTP server.

Foyer is served by werkzeug on a free loopback port (the tenant gets the domain
``http://127.0.0.1:<port>``); the application side is authlib's requests client, which
knows nothing of Foyer: discovery, the code flow with PKCE, state and nonce, full ID token
validation against the published JWKS, userinfo, refresh with rotation, RP-initiated
logout, then client credentials. The browser is a ``requests.Session`` holding the SSO
cookie a sign-in would have set.
"""

from __future__ import annotations

import secrets
import typing as t
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import rfc9207
from authlib.oidc import rpinitiated
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.jwk import KeySet

REDIRECT_URI = "https://app.test/callback"
SIGNED_OUT = "https://app.test/signed-out"


@pytest.fixture
def foyer_config(foyer_config: dict[str, t.Any]) -> dict[str, t.Any]:
    return {**foyer_config, "secure_cookies": False}  # plain http on loopback


def discover(base: str) -> dict[str, t.Any]:
    response = requests.get(f"{base}/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 200
    meta = OpenIDProviderMetadata(response.json())
    meta.validate(
        metadata_classes=[rfc9207.AuthorizationServerMetadata, rpinitiated.OpenIDProviderMetadata]
    )
    assert meta["issuer"] == base
    return dict(meta)


def validated_id_token(
    meta: dict[str, t.Any], id_token: str, client_id: str, nonce: str | None, access_token: str
) -> CodeIDToken:
    jwks = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    decoded = jwt.decode(id_token, jwks, algorithms=meta["id_token_signing_alg_values_supported"])
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        options={
            "iss": {"essential": True, "value": meta["issuer"]},
            "aud": {"essential": True, "value": client_id},
        },
        params={"nonce": nonce, "access_token": access_token, "client_id": client_id},
    )
    claims.validate(leeway=5)
    return claims


def follow_authorization(browser: requests.Session, url: str) -> str:
    """The browser visits the authorization URL; returns where Foyer sends it back."""
    response = browser.get(url, allow_redirects=False, timeout=10)
    assert response.status_code in (302, 303), response.text[:500]
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI), location
    return location


def test_third_party_relying_party_full_session(
    live_server: str,
    browser: requests.Session,
    oidc_client: t.Any,
    machine_client: t.Any,
    user: t.Any,
) -> None:
    meta = discover(live_server)
    model, secret = oidc_client
    rp = OAuth2Session(
        client_id=model.client_id,
        client_secret=secret,
        scope="openid profile email offline_access",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )

    # code flow with PKCE, state and nonce
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = rp.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    location = follow_authorization(browser, url)
    returned = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert returned["state"] == state
    assert returned["iss"] == meta["issuer"]  # RFC 9207 mix-up defence
    token = rp.fetch_token(
        meta["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    id_token = validated_id_token(
        meta, token["id_token"], model.client_id, nonce, token["access_token"]
    )
    assert id_token["sub"] == user.id

    # userinfo with the same subject
    info = rp.get(meta["userinfo_endpoint"], timeout=10)
    assert info.status_code == 200
    assert info.json()["sub"] == id_token["sub"]
    assert info.json()["email"] == user.email

    # refresh rotates; the old refresh token is then refused
    first_refresh = token["refresh_token"]
    refreshed = rp.refresh_token(meta["token_endpoint"], refresh_token=first_refresh)
    assert refreshed["refresh_token"] != first_refresh
    with pytest.raises(OAuthError) as reused:
        rp.refresh_token(meta["token_endpoint"], refresh_token=first_refresh)
    assert reused.value.error == "invalid_grant"

    # RP-initiated logout, then a silent request needs a login again
    logout = browser.get(
        meta["end_session_endpoint"],
        params={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": SIGNED_OUT,
            "state": "bye",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert logout.status_code == 302
    assert logout.headers["Location"] == f"{SIGNED_OUT}?state=bye"
    url, state = rp.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=secrets.token_urlsafe(48), prompt="none"
    )
    silent = parse_qs(urlsplit(follow_authorization(browser, url)).query)
    assert silent["error"] == ["login_required"]
    assert silent["state"] == [state]
    assert silent["iss"] == [meta["issuer"]]

    # a machine client gets an access token for its API
    machine, machine_secret = machine_client
    service = OAuth2Session(client_id=machine.client_id, client_secret=machine_secret)
    machine_token = service.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    jwks = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    access = jwt.decode(machine_token["access_token"], jwks, algorithms=["RS256"])
    assert access.header["typ"] == "at+jwt"
    assert access.claims["aud"] == "https://api.test/billing"
    assert access.claims["iss"] == meta["issuer"]
    assert access.claims["client_id"] == machine.client_id
