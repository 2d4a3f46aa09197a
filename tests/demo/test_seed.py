"""Seeding the demo tenant through ``demo.yaml`` (the config-as-code format)."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from app.accounts.models import User
from app.cli import cli
from app.clients.services import check_client_secret
from app.clients.services import find_client
from app.connections.models import Connection
from app.db import session
from app.demo.cli import register_commands
from app.demo.seed import DEMO_PASSWORD
from app.demo.seed import seed
from app.orgs.models import Membership
from app.orgs.models import Organization
from app.security.passwords import verify_password
from app.tenancy.services import find_tenant

register_commands(cli)


def test_seeding_twice_changes_nothing(foyer_app):
    first = seed(foyer_app, 5000, 5001)
    assert "+ create tenant demo" in first.changes
    users = session.scalar(sa.select(sa.func.count()).select_from(User))

    second = seed(foyer_app, 5000, 5001)

    assert second.changes == "tenant demo: no changes"
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == users
    assert second.client_secret == first.client_secret  # kept in the instance folder


def test_the_demo_tenant_serves_localhost_over_http(foyer_app):
    demo = seed(foyer_app, 5100, 5101)
    tenant = find_tenant("demo")
    assert tenant.base_url == "http://localhost:5100" == demo.foyer_url
    client = find_client(demo.client_id)
    assert client.redirect_uris == ["http://localhost:5101/callback"]
    assert client.post_logout_redirect_uris == ["http://localhost:5101/signed-out"]
    assert check_client_secret(client, demo.client_secret)


def test_isolated_and_shared_organizations(foyer_app):
    seed(foyer_app)
    orgs = {o.name: o for o in session.scalars(sa.select(Organization))}
    assert set(orgs) == {"acme", "globex", "initech", "hooli"}
    assert [c.name for c in orgs["hooli"].connections] == ["hooli-community"]
    assert orgs["hooli"].connections[0].signup_enabled
    hooli = orgs.pop("hooli")  # open sign-up, in the tenant's own look
    assert hooli.theme is None
    assert [c.name for c in orgs["acme"].connections] == ["acme-staff"]
    assert [c.name for c in orgs["globex"].connections] == ["globex-staff", "shared-pool"]
    assert [c.name for c in orgs["initech"].connections] == ["shared-pool"]
    # each organization shows one of the example themes (themes/ember, nocturne, harbor)
    assert {o.name: o.theme for o in orgs.values()} == {
        "acme": "ember",
        "globex": "nocturne",
        "initech": "harbor",
    }
    assert all(o.theme in foyer_app.extensions["foyer.themes"] for o in orgs.values())

    shared = session.scalars(sa.select(Connection).where(Connection.name == "shared-pool")).one()
    members = {
        u.email: u for u in session.scalars(sa.select(User).where(User.connection_id == shared.id))
    }
    assert set(members) == {
        "peter@initech.example",
        "milton@initech.example",
        "carla@consultants.example",
    }
    assert members["peter@initech.example"].app_metadata["organizations"] == ["initech"]
    carla = members["carla@consultants.example"]
    assert carla.app_metadata["organizations"] == ["initech", "globex"]
    assert session.get(Membership, (carla.id, orgs["globex"].id)).roles == ["contractor"]
    assert session.get(
        Membership, (members["peter@initech.example"].id, orgs["initech"].id)
    ).roles == ["admin"]


def test_every_demo_account_signs_in_with_the_printed_password(foyer_app):
    demo = seed(foyer_app)
    assert len(DEMO_PASSWORD) >= 12
    assert len(demo.accounts) == 7
    for account in demo.accounts:
        user = session.scalars(sa.select(User).where(User.email == account.email)).one()
        assert verify_password(user.password_hash, DEMO_PASSWORD)[0]
        assert account.organizations
    carla = next(a for a in demo.accounts if a.email == "carla@consultants.example")
    assert carla.shared
    assert carla.organizations == ("Initech (consultant)", "Globex Corporation (contractor)")


def test_demo_seed_only_prints_the_accounts(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "demo",
            "--seed-only",
            "--instance",
            str(tmp_path / "instance"),
            "--port",
            "5200",
            "--rp-port",
            "5201",
        ],
        env={"FOYER_DATABASE_URL": None, "FOYER_PLUGINS_DIR": str(tmp_path / "plugins")},
    )
    assert result.exit_code == 0, result.output
    assert "+ create tenant demo" in result.stdout
    assert f"password for every one: {DEMO_PASSWORD}" in result.stdout
    assert "peter@initech.example" in result.stdout
    assert (tmp_path / "instance" / "foyer.db").exists()

    again = CliRunner().invoke(
        cli,
        [
            "demo",
            "--seed-only",
            "--instance",
            str(tmp_path / "instance"),
            "--port",
            "5200",
            "--rp-port",
            "5201",
        ],
        env={"FOYER_DATABASE_URL": None, "FOYER_PLUGINS_DIR": str(tmp_path / "plugins")},
    )
    assert "tenant demo: no changes" in again.stdout


def test_the_same_port_twice_is_refused(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--port", "5000", "--rp-port", "5000"])
    assert result.exit_code == 2
    assert "--port and --rp-port must differ" in result.output
