"""``foyer apply`` enables plugins per tenant or organization, checking their settings first."""

from __future__ import annotations

import textwrap

from click.testing import CliRunner

from app.cli import AppContext
from app.cli import cli
from app.configfile.cli import register_commands
from app.db import session
from app.orgs.services import find_organization
from app.tenancy.services import find_tenant

if "apply" not in cli.commands:
    register_commands(cli)

FILE = """\
version: 1
tenant:
  name: plugco
  display_name: Plug Co
  domains: [https://login.plugco.test]
  plugins:
    org_claims: {roles: false}
connections:
  - name: staff
organizations:
  - name: north
    display_name: North
    connections: [staff]
    plugins:
      deny_ip_ranges: {cidrs: [%s]}
"""


def apply(foyer_app, tmp_path, cidrs):
    path = tmp_path / "plugco.yaml"
    path.write_text(textwrap.dedent(FILE % cidrs))
    session.rollback()
    result = CliRunner().invoke(cli, ["apply", str(path)], obj=AppContext(foyer_app))
    session.expire_all()
    return result


def test_apply_enables_plugins_with_their_settings(foyer_app, tmp_path):
    result = apply(foyer_app, tmp_path, '"10.0.0.0/8"')
    assert result.exit_code == 0, result.output
    tenant = find_tenant("plugco")
    assert tenant.settings["plugins"] == {"org_claims": {"roles": False}}
    assert find_organization(tenant, "north").plugins == {
        "deny_ip_ranges": {"cidrs": ["10.0.0.0/8"]}
    }


def test_apply_refuses_settings_that_do_not_fit_the_schema(foyer_app, tmp_path):
    result = apply(foyer_app, tmp_path, '"10.0.0.0/33"')
    assert result.exit_code != 0
    assert "deny_ip_ranges" in result.output
    assert "'10.0.0.0/33' is not an IP network in CIDR notation" in result.output
    assert find_tenant("plugco") is None
