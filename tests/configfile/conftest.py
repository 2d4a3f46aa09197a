"""Running ``foyer apply`` / ``foyer export`` against the test app, and sample files."""

from __future__ import annotations

import textwrap
import typing as t

import pytest
from click.testing import CliRunner
from click.testing import Result
from flask import Flask

from app.cli import AppContext
from app.cli import cli
from app.configfile.cli import register_commands

register_commands(cli)

SECRET = "s3cr3t-value-that-is-long-enough-0123456789"

BASE = """\
version: 1
tenant:
  name: acme
  display_name: Acme Inc.
  domains: [https://login.acme.test, https://auth.acme.test]
  support_email: help@acme.test
connections:
  - name: staff
    display_name: Acme staff
  - name: partners
organizations:
  - name: north
    display_name: North Division
    branding:
      colors: {primary: "#112233"}
      logo_url: https://cdn.acme.test/north.png
    metadata: {region: north}
    connections: [staff, partners]
    email_domains:
      - domain: north.acme.test
        include_subdomains: true
        connection: staff
  - name: south
    display_name: South Division
    connections: [partners]
    email_domains:
      - domain: south.acme.test
clients:
  - client_id: portal
    name: Customer portal
    secret: ${PORTAL_SECRET}
    redirect_uris: [https://portal.acme.test/callback]
    post_logout_redirect_uris: [https://portal.acme.test/]
"""


class Foyer:
    """Runs ``foyer`` commands on the test app; files are written under ``tmp_path``."""

    def __init__(self, app: Flask, tmp_path: t.Any) -> None:
        self.app = app
        self.tmp_path = tmp_path
        self.env: dict[str, str] = {"PORTAL_SECRET": SECRET}

    def write(self, text: str, name: str = "tenant.yaml") -> str:
        path = self.tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        from app.db import session

        session.rollback()
        runner = CliRunner()
        result = runner.invoke(
            cli,
            list(args),
            obj=AppContext(self.app),
            env={**self.env, **(env or {})},
            catch_exceptions=False,
        )
        session.expire_all()
        return result

    def apply(
        self, text: str, *args: str, env: dict[str, str] | None = None, name: str = "tenant.yaml"
    ) -> Result:
        return self.run("apply", self.write(text, name), *args, env=env)


@pytest.fixture
def foyer(foyer_app: Flask, tmp_path: t.Any) -> Foyer:
    return Foyer(foyer_app, tmp_path)
