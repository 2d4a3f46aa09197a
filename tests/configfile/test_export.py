"""``foyer export``: the same format, no secrets, and a round trip through an empty database."""

from __future__ import annotations

import yaml
from flask import Flask

from app.db import session
from app.testing import _delete_all_rows

from .conftest import BASE
from .conftest import SECRET

RICH = (
    BASE.replace(
        "  - name: partners\n",
        "  - name: partners\n    strategy: database\n    signup: true\n"
        "    options: {note: 'costs $${5}', nested: {list: [1, 2.5, null, true]}}\n"
        '    secrets: {api_key: "${PARTNERS_API_KEY}", client_secret: "${PARTNERS_SECRET}"}\n',
    ).replace(
        "    metadata: {region: north}\n",
        "    metadata: {region: north, label: Nörd}\n    domains: [north.acme.test]\n"
        "    theme: default\n    default_locale: de\n    plugins: {}\n",
    )
    + """\
  - client_id: machine
    name: Reporting job
    grant_types: [client_credentials]
    scope: reports:read
    audience: https://api.acme.test
    id_token_alg: ES256
    organization_usage: deny
    secret: ${MACHINE_SECRET}
  - client_id: spa
    name: Single-page app
    auth_method: none
    redirect_uris: [http://127.0.0.1:3000/cb]
    organization_usage: require
"""
)
ENV = {
    "PARTNERS_API_KEY": "partners-api-key-1",
    "PARTNERS_SECRET": "partners-secret-2",
    "MACHINE_SECRET": "machine-secret-that-is-long-enough-000000",
}


def test_export_writes_the_format_without_secrets(foyer):
    assert foyer.apply(RICH, env=ENV).exit_code == 0
    result = foyer.run("export", "acme")
    assert result.exit_code == 0, result.output
    text = result.stdout
    for secret in (*ENV.values(), SECRET):
        assert secret not in text
    data = yaml.safe_load(text)
    partners = data["connections"][0]
    assert partners["name"] == "partners"
    assert partners["secrets"] == {
        "api_key": "${ACME_CONNECTION_PARTNERS_API_KEY}",
        "client_secret": "${ACME_CONNECTION_PARTNERS_CLIENT_SECRET}",
    }
    assert partners["options"]["note"] == "costs $${5}"  # a literal ${ stays literal
    assert "#   ACME_CONNECTION_PARTNERS_API_KEY" in text
    assert all("secret" not in client for client in data["clients"])
    staff = data["connections"][1]
    assert staff == {"name": "staff", "display_name": "Acme staff"}  # defaults left out
    assert "users" not in data


def test_export_then_apply_on_an_empty_database_reproduces_the_export(foyer, foyer_app: Flask):
    assert foyer.apply(RICH, env=ENV).exit_code == 0
    first = foyer.run("export", "acme", "-o", str(foyer.tmp_path / "acme.yaml"))
    assert first.exit_code == 0, first.output
    exported = (foyer.tmp_path / "acme.yaml").read_text()

    session.close()
    _delete_all_rows(foyer_app)
    env = {
        "ACME_CONNECTION_PARTNERS_API_KEY": "other-value",
        "ACME_CONNECTION_PARTNERS_CLIENT_SECRET": "other-secret",
    }
    applied = foyer.run("apply", str(foyer.tmp_path / "acme.yaml"), env=env)
    assert applied.exit_code == 0, applied.output
    # the confidential clients got new secrets, printed once
    assert "client machine: secret" in applied.stdout
    assert "client portal: secret" in applied.stdout

    again = foyer.run("export", "acme")
    assert again.stdout == exported
    assert foyer.run("apply", str(foyer.tmp_path / "acme.yaml"), env=env).stdout.strip() == (
        "tenant acme: no changes"
    )


def test_applying_the_export_to_the_same_database_changes_nothing(foyer):
    assert foyer.apply(RICH, env=ENV).exit_code == 0
    exported = foyer.run("export", "acme").stdout
    env = {
        "ACME_CONNECTION_PARTNERS_API_KEY": ENV["PARTNERS_API_KEY"],
        "ACME_CONNECTION_PARTNERS_CLIENT_SECRET": ENV["PARTNERS_SECRET"],
    }
    result = foyer.apply(exported, env=env)
    assert result.stdout.strip() == "tenant acme: no changes", result.output


def test_export_of_an_unknown_tenant_fails(foyer):
    result = foyer.run("export", "nobody")
    assert result.exit_code == 1
    assert "error: no tenant named 'nobody'" in result.stderr
