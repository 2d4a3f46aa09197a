"""``foyer apply`` takes ``strategy: oidc`` connections, checks their options and keeps
their client secret encrypted."""

from __future__ import annotations

import sqlalchemy as sa

from app.connections.models import Connection
from app.db import session
from tests.configfile.conftest import foyer  # noqa: F401 - the fixture

FILE = """\
version: 1
tenant:
  name: acme
  display_name: Acme Inc.
  domains: [https://login.acme.test]
connections:
  - name: acme-sso
    strategy: oidc
    display_name: Acme SSO
    options:
      issuer: https://idp.acme.test
      client_id: foyer
      scope: openid profile email groups
      prompt: select_account
      auth_method: client_secret_post
      userinfo: true
      mapping: {groups: roles, locale: null}
      app_metadata: {department: department}
      link_to: [staff]
    secrets: {client_secret: "${ACME_SSO_SECRET}"}
  - name: staff
organizations:
  - name: north
    display_name: North
    connections: [acme-sso, staff]
"""


def test_an_oidc_connection_is_applied_with_its_secret_encrypted(foyer):  # noqa: F811
    result = foyer.apply(FILE, env={"ACME_SSO_SECRET": "the-upstream-client-secret"})
    assert result.exit_code == 0, result.output
    assert "the-upstream-client-secret" not in result.output
    connection = session.scalars(sa.select(Connection).where(Connection.name == "acme-sso")).one()
    assert connection.strategy == "oidc"
    assert connection.options["auth_method"] == "client_secret_post"
    assert connection.get_secrets() == {"client_secret": "the-upstream-client-secret"}
    assert "the-upstream-client-secret" not in (connection.secrets_encrypted or "")


def test_bad_options_are_named_field_by_field(foyer):  # noqa: F811
    bad = (
        FILE.replace("https://idp.acme.test", "http://idp.acme.test")
        .replace("client_secret_post", "client_secret_jwt")
        .replace("scope: openid profile email groups", "scope: profile email")
        .replace("{groups: roles, locale: null}", "{favourite_colour: colour}")
        .replace('    secrets: {client_secret: "${ACME_SSO_SECRET}"}\n', "")
    )
    result = foyer.apply(bad)
    assert result.exit_code != 0
    for field in (
        "connections[0].options.issuer",
        "connections[0].options.auth_method",
        "connections[0].options.scope",
        "connections[0].options.mapping.favourite_colour",
    ):
        assert field in result.output, result.output
    assert session.scalars(sa.select(Connection)).all() == []  # nothing half-applied


def test_the_client_authentication_needs_its_secret(foyer):  # noqa: F811
    no_secret = FILE.replace('    secrets: {client_secret: "${ACME_SSO_SECRET}"}\n', "")
    result = foyer.apply(no_secret)
    assert result.exit_code != 0
    assert "connections[0]: client_secret_post needs the client secret" in result.output
    private_key_jwt = no_secret.replace("client_secret_post", "private_key_jwt")
    assert "private_key_jwt needs a private key" in foyer.apply(private_key_jwt).output
