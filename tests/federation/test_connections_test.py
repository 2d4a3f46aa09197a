"""``foyer connections test NAME`` for OpenID Connect connections (and presets): what to
register at the IdP, and checks of discovery, issuer, keys and clock, against the real IdP
(npm's oidc-provider) and against broken ones."""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
import typing as t
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.clikit import AppContext
from app.connections.cli import register_commands
from tests.federation.upstream_idp import CLIENT_SECRET

register_commands(cli)


def run(foyer_app, name):
    return CliRunner().invoke(
        cli, ["connections", "test", "--tenant", "acme", name], obj=AppContext(foyer_app)
    )


class Broken:
    """An IdP that answers discovery as told (``document``, ``jwks``, ``date``)."""

    def __init__(self) -> None:
        self.document: dict[str, t.Any] = {}
        self.jwks: t.Any = {"keys": []}
        self.date: str | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: t.Any) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                return owner.date or super().date_time_string(timestamp)

            def do_GET(self) -> None:
                body = owner.document if "openid-configuration" in self.path else owner.jwks
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.document = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def broken():
    idp = Broken()
    try:
        yield idp
    finally:
        idp.stop()


def test_a_working_idp_passes_and_the_callback_urls_are_printed(foyer_app, realm, idp):
    realm.acme_sso.options = {**realm.acme_sso.options, "upstream_logout": True}
    from app.db import session

    session.commit()
    result = run(foyer_app, "acme-sso")
    out = result.output
    assert result.exit_code == 0, out
    assert "  Redirect URI: https://login.test/login/callback" in out
    assert "  Redirect URI: https://acme.login.test/login/callback" in out
    assert "  Redirect URI: https://login.test/o/acme/login/callback" in out
    assert "  Post-logout redirect URI: https://login.test/login/upstream-logout" in out
    assert f"✓ discovery: {idp.issuer}/.well-known/openid-configuration: HTTP 200" in out
    assert f"✓ issuer: {idp.issuer}" in out
    assert "✓ signing keys: 1: upstream-1 (RSA)" in out
    assert "✓ ID token algorithms: RS256" in out
    assert "✓ client authentication: client_secret_basic" in out
    assert "✓ PKCE S256: listed" in out
    assert f"✓ end_session_endpoint: {idp.issuer}/session/end" in out
    assert "✓ clock: 0 s apart" in out or "✓ clock: 1 s apart" in out
    assert "0 error(s)" in out


def test_a_preset_is_tested_the_same_way(foyer_app, make_connection, idp):
    make_connection(
        "google",
        "google",
        options={"issuer": idp.issuer, "client_id": "foyer-basic"},
        secrets={"client_secret": CLIENT_SECRET},
    )
    result = run(foyer_app, "google")
    assert result.exit_code == 0, result.output
    assert "  scope: openid email profile" in result.output


def test_an_unreachable_idp_fails(foyer_app, make_connection):
    make_connection("gone", "oidc", options={"issuer": "http://127.0.0.1:9", "client_id": "x"})
    result = run(foyer_app, "gone")
    assert result.exit_code == 1
    assert "✗ discovery: http://127.0.0.1:9/.well-known/openid-configuration: ConnectionError" in (
        result.output
    )
    assert "  Redirect URI: https://login.test/login/callback" in result.output  # still said


def test_an_issuer_that_does_not_match_fails(foyer_app, make_connection, broken):
    broken.document["issuer"] = "https://someone-else.example"
    make_connection("mixed", "oidc", options={"issuer": broken.issuer, "client_id": "x"})
    result = run(foyer_app, "mixed")
    assert result.exit_code == 1
    assert "discovery names issuer 'https://someone-else.example'" in result.output


def test_keys_that_cannot_be_used_fail(foyer_app, make_connection, broken):
    broken.jwks = {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "shared"}]}
    make_connection("nokeys", "oidc", options={"issuer": broken.issuer, "client_id": "x"})
    result = run(foyer_app, "nokeys")
    assert result.exit_code == 1, result.output
    assert "✗ signing keys:" in result.output and "no usable signing key" in result.output


def test_only_symmetric_or_none_algorithms_fail(foyer_app, make_connection, broken):
    broken.document["id_token_signing_alg_values_supported"] = ["HS256", "none"]
    make_connection("weak", "oidc", options={"issuer": broken.issuer, "client_id": "x"})
    result = run(foyer_app, "weak")
    assert result.exit_code == 1
    assert "✗ ID token algorithms: ['HS256', 'none']: none Foyer accepts" in result.output


def test_a_clock_far_off_fails(foyer_app, make_connection, broken):
    broken.date = email.utils.formatdate(time.time() - 600, usegmt=True)
    make_connection("late", "oidc", options={"issuer": broken.issuer, "client_id": "x"})
    result = run(foyer_app, "late")
    assert result.exit_code == 1
    assert re.search(r"✗ clock: 6\d\d s apart \(ID tokens allow 60 s\)", result.output)


def test_github_prints_its_callback_url(foyer_app, make_connection):
    make_connection("gh", "github", options={"client_id": "x", "api_url": "http://127.0.0.1:9"})
    result = run(foyer_app, "gh")
    assert "  Authorization callback URL: https://login.test/login/callback" in result.output
    assert "✗ GitHub API: http://127.0.0.1:9: ConnectionError" in result.output
    assert result.exit_code == 1
