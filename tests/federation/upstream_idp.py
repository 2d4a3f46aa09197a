"""The customer's enterprise IdP for the federation tests: npm's ``oidc-provider`` (a
certified OpenID Provider, ``upstream/idp.mjs``) started on a free loopback port.

The test owns the IdP's signing key, so it can also sign tokens the real IdP would never
issue (wrong audience, bad nonce, expired) for the checks the IdP cannot be made to fail.
:meth:`UpstreamIdp.sign_in` drives the IdP's own login form over HTTP the way a browser
does and returns the callback URL the IdP sends the browser back to.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import typing as t
from html import unescape
from pathlib import Path
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey

HERE = Path(__file__).resolve().parent / "upstream"
FOYER_HOSTS = ("login.test", "acme.login.test")
CALLBACKS = [
    "https://login.test/login/callback",
    "https://acme.login.test/login/callback",
    "https://login.test/o/acme/login/callback",
]
CLIENT_SECRET = "upstream client secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing() -> str | None:
    """Why the IdP cannot run here (no node, or the peer not installed), else None."""
    if shutil.which("node") is None:
        return "no node: install Node.js 20+ for the upstream IdP of the federation tests"
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        return f"oidc-provider is not installed: run scripts/setup (npm ci in {HERE})"
    return None


def unavailable(message: str) -> None:
    """No node or no installed peer: a failure in CI, else a skip saying how to fix it."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class UpstreamIdp:
    def __init__(
        self,
        workdir: Path,
        callbacks: t.Sequence[str] = CALLBACKS,
        tenant: str | None = None,
    ) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.tenant = tenant
        """Set: one tenant of a multi-tenant IdP (issuer ``/<tenant>/v2.0``, and
        ``/organizations/v2.0`` names the issuer ``/{tenantid}/v2.0``, as Entra ID does)."""
        self.issuer = f"{self.origin}/{tenant}/v2.0" if tenant else self.origin
        self.signing_key = RSAKey.generate_key(
            2048, parameters={"kid": "upstream-1", "alg": "RS256", "use": "sig"}
        )
        self.client_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.client_key_pem = self.client_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        client_jwk = RSAKey.import_key(self.client_key_pem).as_dict(private=False)
        workdir.mkdir(parents=True, exist_ok=True)
        self.accounts_file = workdir / "accounts.json"
        self.accounts: dict[str, dict[str, t.Any]] = {}
        self.save_accounts()
        base = {
            "redirect_uris": list(callbacks),
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "id_token_signed_response_alg": "RS256",
            "post_logout_redirect_uris": [
                url.replace("/login/callback", "/login/upstream-logout") for url in callbacks
            ],
        }
        clients = [
            {
                **base,
                "client_id": "foyer-basic",
                "client_secret": CLIENT_SECRET,
                "token_endpoint_auth_method": "client_secret_basic",
            },
            {
                **base,
                "client_id": "foyer-post",
                "client_secret": CLIENT_SECRET,
                "token_endpoint_auth_method": "client_secret_post",
            },
            {
                **base,
                "client_id": "foyer-pkjwt",
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "RS256",
                "jwks": {"keys": [{**client_jwk, "kid": "foyer-client", "use": "sig"}]},
            },
        ]
        config = {
            "port": self.port,
            "clients": clients,
            "accounts_file": str(self.accounts_file),
            "jwks": {"keys": [self.signing_key.as_dict(private=True)]},
            **({"tenant": tenant} if tenant else {}),
        }
        config_file = workdir / "idp.json"
        config_file.write_text(json.dumps(config))
        self.log = open(workdir / "idp.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            ["node", str(HERE / "idp.mjs"), str(config_file)],
            cwd=HERE,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_until_up(workdir)

    def wait_until_up(self, workdir: Path) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((workdir / "idp.log").read_text())
            try:
                requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the upstream IdP did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()

    # -- people ----------------------------------------------------------------------------

    def save_accounts(self) -> None:
        self.accounts_file.write_text(json.dumps(self.accounts))

    def person(self, sub: str, **claims: t.Any) -> None:
        """Add (or change) a person the IdP knows; ``sub`` is also their login."""
        self.accounts[sub] = claims
        self.save_accounts()

    def options(self, client_id: str = "foyer-basic", **more: t.Any) -> dict[str, t.Any]:
        """A connection's options for this IdP."""
        return {"issuer": self.issuer, "client_id": client_id, **more}

    # -- a browser at the IdP --------------------------------------------------------------

    def sign_in(
        self, authorize_url: str, sub: str | None, browser: requests.Session | None = None
    ) -> str:
        """Follow ``authorize_url`` at the IdP, sign in as ``sub`` on its login form (None:
        cancel it), and return the URL it sends the browser back to (Foyer's callback)."""
        browser = browser or requests.Session()
        url = authorize_url
        for _ in range(12):
            if not url.startswith(self.origin):
                return url
            response = browser.get(url, allow_redirects=False, timeout=10)
            if response.status_code in (302, 303):
                url = urljoin(url, response.headers["Location"])
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            assert form, f"no form at {url}: {response.status_code} {response.text[:300]}"
            if sub is None:
                abort = re.search(r'href="([^"]*/abort)"', response.text)
                assert abort, response.text[:500]
                url = urljoin(url, unescape(abort.group(1)))
                continue
            fields = dict(
                re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', response.text)
            )
            fields.update(login=sub, password="any password")
            response = browser.post(
                urljoin(url, unescape(form.group(1))), data=fields, allow_redirects=False
            )
            url = urljoin(url, response.headers.get("Location", ""))
        raise AssertionError("the IdP did not send the browser back")

    def decode(self, token: str) -> dict[str, t.Any]:
        """The claims of a token the IdP signed (its signature checked)."""
        return dict(jwt.decode(token, self.signing_key).claims)

    def forge_id_token(self, claims: dict[str, t.Any], key: RSAKey | None = None) -> str:
        """An ID token signed with the IdP's own key (or ``key``): what the IdP never sends."""
        key = key or self.signing_key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def at_foyer(url: str) -> str:
    """The path and query of a callback URL, for Foyer's test client."""
    parts = urlsplit(url)
    assert parts.hostname in FOYER_HOSTS, url
    return f"{parts.path}?{parts.query}"


@pytest.fixture(scope="session")
def upstream_idp(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[UpstreamIdp]:
    why = missing()
    if why:
        unavailable(why)
    idp = UpstreamIdp(tmp_path_factory.mktemp("upstream-idp"))
    try:
        yield idp
    finally:
        idp.stop()
