"""An application chooses the theme of its sign-in pages, in the file and on the command line;
the file also carries its metadata."""

from __future__ import annotations

import re

import sqlalchemy as sa
from click.testing import CliRunner

from app.cli import AppContext
from app.cli import cli
from app.clients.models import Client
from app.db import session
from app.oidc.cli import register_commands as register_clients
from app.testing import host_client
from tests.configfile.conftest import BASE

WITH_THEME = BASE.replace(
    "    post_logout_redirect_uris: [https://portal.acme.test/]\n",
    "    post_logout_redirect_uris: [https://portal.acme.test/]\n"
    "    theme: harbor\n"
    "    metadata: {tier: gold}\n",
)


def portal() -> Client:
    return session.scalar(sa.select(Client).where(Client.client_id == "portal"))


def test_the_file_sets_an_applications_theme_and_metadata(foyer):
    result = foyer.apply(WITH_THEME)
    assert result.exit_code == 0, result.output
    client = portal()
    assert client.settings["branding"]["theme"] == "harbor"
    assert client.metadata == {"tier": "gold"}
    exported = foyer.run("export", "acme").output
    assert re.search(r"theme: harbor\n\s+metadata:\n\s+tier: gold", exported), exported
    assert "tenant acme: no changes" in foyer.apply(WITH_THEME, "--dry-run").output
    # the sign-in pages of the application use it
    browser = host_client(foyer.app, "login.acme.test")
    start = browser.get(
        "/authorize",
        query_string={
            "client_id": "portal",
            "response_type": "code",
            "redirect_uri": "https://portal.acme.test/callback",
            "scope": "openid",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
        follow_redirects=True,
    )
    assert 'class="theme-harbor' in start.get_data(as_text=True)


def test_an_unknown_application_theme_is_refused_with_a_suggestion(foyer):
    result = foyer.apply(WITH_THEME.replace("theme: harbor", "theme: harbour"))
    assert result.exit_code == 1
    assert "clients[0].theme: no theme named 'harbour' is installed" in result.output
    assert "did you mean 'harbor'?" in result.output


def test_clients_create_takes_a_theme(foyer_app, tenant):
    register_clients(cli)
    args = ["clients", "create", "--tenant", "acme", "--name", "Portal"]
    args += ["--redirect-uri", "https://app.test/cb"]
    made = CliRunner().invoke(cli, [*args, "--theme", "ember"], obj=AppContext(foyer_app))
    assert made.exit_code == 0, made.output
    client_id = made.output.split()[1]
    session.expire_all()
    stored = session.scalar(sa.select(Client).where(Client.client_id == client_id))
    assert stored.settings["branding"] == {"theme": "ember"}
    wrong = CliRunner().invoke(cli, [*args, "--theme", "embr"], obj=AppContext(foyer_app))
    assert wrong.exit_code == 1 and "did you mean 'ember'?" in wrong.output
