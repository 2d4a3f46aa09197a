"""A relying party for e2e scenarios: authlib's client, with the browser's redirect caught.

The browser's visits to the application are recorded from Playwright's request events, so
the suite needs no application code: the local harness answers them with a plain page
(``e2e/conftest.py``), and against another deployment any page at the redirect_uri will do.
"""

from __future__ import annotations

import secrets
import typing as t
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry


class RelyingParty:
    def __init__(self, base_url: str, client: dict[str, t.Any]) -> None:
        self.base_url = base_url
        self.client = client
        self.metadata = requests.get(
            f"{base_url}/.well-known/openid-configuration", timeout=10
        ).json()
        self.session = OAuth2Session(
            client["client_id"],
            client["client_secret"],
            scope="openid profile email offline_access",
            redirect_uri=client["redirect_uri"],
            code_challenge_method="S256",
        )
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(16)
        self.state: str | None = None
        self.landed: list[str] = []

    def authorization_url(self, **params: str) -> str:
        url, self.state = self.session.create_authorization_url(
            self.metadata["authorization_endpoint"],
            code_verifier=self.verifier,
            nonce=self.nonce,
            **params,
        )
        return str(url)

    def catch_redirects(self, page: t.Any) -> None:
        """Record every request the browser makes to the application's origin."""
        parts = urlsplit(self.client["redirect_uri"])
        origin = f"{parts.scheme}://{parts.netloc}/"

        def record(request: t.Any) -> None:
            if request.url.startswith(origin):
                self.landed.append(request.url)

        page.on("request", record)

    def wait_until_back(self, page: t.Any, count: int = 1) -> None:
        """Wait until the browser has come back to the application ``count`` times."""
        deadline = 100
        while len(self.landed) < count and deadline:
            page.wait_for_timeout(100)
            deadline -= 1
        assert len(self.landed) >= count, "the browser never came back to the application"

    def callback_params(self) -> dict[str, str]:
        assert self.landed, "the browser never came back to the application"
        query = parse_qs(urlsplit(self.landed[-1]).query)
        return {k: v[0] for k, v in query.items()}

    def exchange(self) -> dict[str, t.Any]:
        params = self.callback_params()
        assert params.get("state") == self.state
        assert params.get("iss") == self.metadata["issuer"]
        token = self.session.fetch_token(
            self.metadata["token_endpoint"],
            code=params["code"],
            code_verifier=self.verifier,
            grant_type="authorization_code",
        )
        return dict(token)

    def validate_id_token(self, id_token: str, access_token: str) -> dict[str, t.Any]:
        jwks = requests.get(self.metadata["jwks_uri"], timeout=10).json()
        token = jwt.decode(
            id_token,
            KeySet.import_key_set(jwks),
            algorithms=self.metadata["id_token_signing_alg_values_supported"],
        )
        JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": self.metadata["issuer"]},
            aud={"essential": True, "value": self.client["client_id"]},
            sub={"essential": True},
            nonce={"essential": True, "value": self.nonce},
        ).validate(token.claims)
        at_hash = create_half_hash(access_token, token.header["alg"])
        assert at_hash is not None and token.claims.get("at_hash") == at_hash.decode()
        return dict(token.claims)
