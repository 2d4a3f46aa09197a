"""PKCE for every client (OAuth 2.1, RFC 9700 §2.1.1; SECURITY.md P-07, P-08).

A code flow without ``code_challenge`` goes back to the client as ``invalid_request``;
only a confidential client registered with ``require_pkce: false`` (config file) or
``--no-require-pkce`` (CLI) may skip it, and a public client never can. ``plain`` is
refused for everyone.
"""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.cli import AppContext
from app.cli import cli
from app.clients.models import Client
from app.clients.services import ClientInvalid
from app.clients.services import create_client
from app.db import session
from app.oidc.cli import register_commands
from app.oidc.models import AuthorizationCode
from app.testing import authorize
from app.testing import exchange_code
from app.testing import pkce_pair
from app.testing import sign_in
from tests.configfile.conftest import BASE
from tests.configfile.conftest import Foyer

register_commands(cli)


@pytest.fixture
def signed_in(client, user):
    return sign_in(client, user)


def redirect_query(client, model, **params):
    query = {
        "response_type": "code",
        "client_id": model.client_id,
        "redirect_uri": model.redirect_uris[0],
        "scope": "openid",
        "state": "st-1",
        "nonce": "n-1",
        **params,
    }
    response = client.get("/authorize", query_string={k: v for k, v in query.items() if v})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(model.redirect_uris[0] + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_a_confidential_client_without_code_challenge_gets_invalid_request(
    client, oidc_client, signed_in
):
    model, _secret = oidc_client
    got = redirect_query(client, model)
    assert got["error"] == "invalid_request"
    assert "PKCE" in got["error_description"]
    assert got["state"] == "st-1" and got["iss"] == "https://login.test"
    assert "code" not in got
    assert session.scalar(sa.select(sa.func.count()).select_from(AuthorizationCode)) == 0


def test_a_public_client_without_code_challenge_gets_invalid_request(
    client, make_client, signed_in
):
    model, _secret = make_client(token_endpoint_auth_method="none")
    assert redirect_query(client, model)["error"] == "invalid_request"


@pytest.mark.parametrize("require_pkce", [True, False])
def test_plain_is_refused_for_every_client(client, make_client, signed_in, require_pkce):
    model, _secret = make_client(require_pkce=require_pkce)
    _verifier, challenge = pkce_pair()
    got = redirect_query(client, model, code_challenge=challenge, code_challenge_method="plain")
    assert got["error"] == "invalid_request"


def test_discovery_advertises_s256_only(client, tenant):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["code_challenge_methods_supported"] == ["S256"]


def test_a_confidential_client_that_opted_out_may_skip_pkce(client, make_client, signed_in):
    model, secret = make_client(require_pkce=False)
    assert model.settings["require_pkce"] is False
    result = authorize(client, model, code_challenge=None, code_challenge_method=None)
    assert exchange_code(client, model, result, secret).status_code == 200
    # and may still use it
    result = authorize(client, model)
    assert exchange_code(client, model, result, secret).status_code == 200


def test_a_code_without_challenge_is_refused_once_the_client_requires_pkce(
    client, make_client, signed_in
):
    model, secret = make_client(require_pkce=False)
    result = authorize(client, model, code_challenge=None, code_challenge_method=None)
    model.settings = {**model.settings, "require_pkce": True}
    session.commit()
    response = exchange_code(client, model, result, secret)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_a_public_client_cannot_opt_out(tenant):
    with pytest.raises(ClientInvalid, match="require_pkce: a public client"):
        create_client(
            tenant,
            "SPA",
            token_endpoint_auth_method="none",
            redirect_uris=["https://spa.test/cb"],
            require_pkce=False,
        )


def test_cli_opt_out_for_a_confidential_client_only(foyer_app, tenant):
    args = ["clients", "create", "--tenant", "acme", "--redirect-uri", "https://app.test/cb"]
    legacy = CliRunner().invoke(
        cli, [*args, "--name", "Legacy", "--no-require-pkce"], obj=AppContext(foyer_app)
    )
    assert legacy.exit_code == 0, legacy.output
    stored = session.scalar(sa.select(Client).where(Client.name == "Legacy"))
    assert stored is not None and not stored.requires_pkce
    public = CliRunner().invoke(
        cli,
        [*args, "--name", "SPA", "--auth-method", "none", "--no-require-pkce"],
        obj=AppContext(foyer_app),
    )
    assert public.exit_code == 1
    assert "--no-require-pkce: a public client (auth method none) must use PKCE" in public.output
    assert session.scalar(sa.select(Client).where(Client.name == "SPA")) is None
    default = CliRunner().invoke(cli, [*args, "--name", "Portal"], obj=AppContext(foyer_app))
    assert default.exit_code == 0
    assert session.scalar(sa.select(Client).where(Client.name == "Portal")).requires_pkce


def test_config_file_opt_out_applies_and_exports(foyer_app, tmp_path):
    foyer = Foyer(foyer_app, tmp_path)
    text = BASE.replace(
        "    secret: ${PORTAL_SECRET}\n", "    secret: ${PORTAL_SECRET}\n    require_pkce: false\n"
    )
    assert foyer.apply(text).exit_code == 0
    stored = session.scalar(sa.select(Client).where(Client.client_id == "portal"))
    assert stored is not None and not stored.requires_pkce
    exported = foyer.run("export", "acme")
    assert "require_pkce: false" in exported.output
    # back to the default: the key is dropped from the export, and PKCE is required again
    assert foyer.apply(BASE).exit_code == 0
    session.refresh(stored)
    assert stored.requires_pkce
    assert "require_pkce" not in foyer.run("export", "acme").output


def test_config_file_refuses_an_opt_out_for_a_public_client(foyer_app, tmp_path):
    foyer = Foyer(foyer_app, tmp_path)
    text = BASE.replace(
        "    secret: ${PORTAL_SECRET}\n", "    auth_method: none\n    require_pkce: false\n"
    )
    result = foyer.apply(text)
    assert result.exit_code == 1
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "require_pkce" in row)
    assert f"tenant.yaml:{line}:" in result.stderr
    assert "clients[0].require_pkce: a public client (auth method none) must use PKCE" in (
        result.stderr
    )
    assert session.scalar(sa.select(Client)) is None
