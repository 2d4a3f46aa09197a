"""``foyer apply``: creating and updating a tenant, idempotency, dry runs, prune."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.clients.models import Client
from app.clients.services import check_client_secret
from app.connections.models import Connection
from app.db import session
from app.events.models import Event
from app.orgs.models import Membership
from app.orgs.models import Organization
from app.orgs.models import OrgDomain
from app.tenancy.models import Tenant
from app.tenancy.models import TenantDomain
from app.tenancy.services import find_tenant

from .conftest import BASE
from .conftest import SECRET


def org(name: str) -> Organization:
    return session.scalars(sa.select(Organization).where(Organization.name == name)).one()


def row_counts() -> dict[str, int]:
    models = (Tenant, TenantDomain, Connection, Organization, OrgDomain, Client, User, Membership)
    return {
        m.__name__: session.scalar(sa.select(sa.func.count()).select_from(m)) or 0 for m in models
    }


def test_apply_creates_the_tenant_with_its_objects(foyer):
    result = foyer.apply(BASE)
    assert result.exit_code == 0, result.output
    assert "+ create tenant acme" in result.stdout
    assert "+ create organization north" in result.stdout
    assert "applied" in result.stdout

    tenant = find_tenant("acme")
    assert tenant.display_name == "Acme Inc."
    assert tenant.base_url == "https://login.acme.test"
    assert sorted(d.hostname for d in tenant.domains) == ["auth.acme.test", "login.acme.test"]
    assert tenant.settings == {"support_email": "help@acme.test"}

    north = org("north")
    assert [c.name for c in north.connections] == ["staff", "partners"]
    assert north.branding == {
        "colors": {"primary": "#112233"},
        "logo_url": "https://cdn.acme.test/north.png",
    }
    assert north.metadata_ == {"region": "north"}
    [domain] = north.email_domains
    assert (domain.domain, domain.include_subdomains) == ("north.acme.test", True)
    assert domain.connection_id == north.connections[0].id
    south_domain = org("south").email_domains[0]
    assert south_domain.connection_id is None and not south_domain.include_subdomains

    client = session.scalars(sa.select(Client).where(Client.client_id == "portal")).one()
    assert client.secret_hash != SECRET
    assert check_client_secret(client, SECRET)
    assert client.redirect_uris == ["https://portal.acme.test/callback"]
    assert client.grant_types == ["authorization_code", "refresh_token"]


def test_applying_twice_changes_nothing_and_says_so(foyer):
    assert foyer.apply(BASE).exit_code == 0
    before = row_counts()
    events = session.scalar(sa.select(sa.func.count()).select_from(Event))

    result = foyer.apply(BASE)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "tenant acme: no changes"
    assert row_counts() == before
    assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == events


def test_dry_run_prints_the_plan_and_writes_nothing(foyer):
    result = foyer.apply(BASE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "+ create tenant acme" in result.stdout
    assert "+ create client portal" in result.stdout
    assert "dry run: nothing was changed" in result.stdout
    assert find_tenant("acme") is None
    assert sum(row_counts().values()) == 0

    foyer.apply(BASE)
    before = row_counts()
    changed = BASE.replace("North Division", "North Region").replace(
        "https://portal.acme.test/callback", "https://portal.acme.test/cb"
    )
    result = foyer.apply(changed, "--dry-run")
    assert "~ update organization north" in result.stdout
    assert 'display_name: "North Division" -> "North Region"' in result.stdout
    assert (
        'redirect_uris: ["https://portal.acme.test/callback"] -> ["https://portal.acme.test/cb"]'
        in result.stdout
    )
    assert "1 to update" not in result.stdout  # two objects change
    assert "0 to create, 2 to update, 0 to delete" in result.stdout
    session.expire_all()
    assert org("north").display_name == "North Division"
    assert row_counts() == before


def test_update_applies_field_changes(foyer):
    foyer.apply(BASE)
    changed = BASE.replace("North Division", "North Region").replace(
        "connections: [staff, partners]", "connections: [partners, staff]"
    )
    result = foyer.apply(changed)
    assert result.exit_code == 0, result.output
    assert "0 to create, 1 to update, 0 to delete" in result.stdout
    north = org("north")
    assert north.display_name == "North Region"
    assert [c.name for c in north.connections] == ["partners", "staff"]
    assert foyer.apply(changed).stdout.strip() == "tenant acme: no changes"


def test_secrets_are_never_printed_only_marked_changed(foyer):
    text = BASE.replace(
        "  - name: partners\n", '  - name: partners\n    secrets: {api_key: "${API_KEY}"}\n'
    )
    first = foyer.apply(text, env={"API_KEY": "first-api-key-value"})
    assert first.exit_code == 0, first.output
    assert "secrets.api_key: (set)" in first.stdout
    assert "secret: (set)" in first.stdout
    connection = session.scalars(sa.select(Connection).where(Connection.name == "partners")).one()
    assert connection.get_secrets() == {"api_key": "first-api-key-value"}
    assert "first-api-key-value" not in (connection.secrets_encrypted or "")

    new_secret = "another-client-secret-that-is-long-enough-42"
    second = foyer.apply(text, env={"API_KEY": "second-api-key", "PORTAL_SECRET": new_secret})
    assert second.exit_code == 0, second.output
    assert "secrets.api_key: (changed)" in second.stdout
    assert "secret: (changed)" in second.stdout
    for value in ("first-api-key-value", "second-api-key", SECRET, new_secret):
        assert value not in first.output + second.output
    client = session.scalars(sa.select(Client).where(Client.client_id == "portal")).one()
    assert check_client_secret(client, new_secret)


def test_a_new_client_without_a_secret_gets_one_printed_once(foyer):
    text = BASE.replace("    secret: ${PORTAL_SECRET}\n", "")
    result = foyer.apply(text)
    assert "secret: (generated, printed once)" in result.stdout
    line = next(line for line in result.stdout.splitlines() if line.startswith("client portal:"))
    secret = line.split("secret ", 1)[1].split()[0]
    client = session.scalars(sa.select(Client).where(Client.client_id == "portal")).one()
    assert check_client_secret(client, secret)

    again = foyer.apply(text)
    assert again.stdout.strip() == "tenant acme: no changes"
    assert secret not in again.output


def test_a_public_client_has_no_secret(foyer):
    text = BASE.replace("    secret: ${PORTAL_SECRET}\n", "    auth_method: none\n")
    result = foyer.apply(text)
    assert result.exit_code == 0, result.output
    client = session.scalars(sa.select(Client).where(Client.client_id == "portal")).one()
    assert client.secret_hash is None and client.is_public
    assert "client portal: secret" not in result.stdout


def test_config_applied_event_is_recorded_without_secrets(foyer):
    foyer.apply(BASE)
    event = session.scalars(sa.select(Event).where(Event.type == "config_applied")).one()
    assert event.tenant_id == find_tenant("acme").id
    assert event.data["create"] == 6
    assert event.data["source"] == "tenant.yaml"
    assert SECRET not in str(event.data)


def test_objects_missing_from_the_file_are_left_alone_without_prune(foyer):
    foyer.apply(BASE)
    without_south = (
        BASE.split("  - name: south")[0] + BASE.split("      - domain: south.acme.test\n")[1]
    )
    result = foyer.apply(without_south)
    assert result.stdout.strip() == "tenant acme: no changes"
    assert org("south") is not None

    planned = foyer.apply(without_south, "--prune", "--dry-run")
    assert "- delete organization south" in planned.stdout
    assert session.scalar(sa.select(sa.func.count()).select_from(Organization)) == 2

    pruned = foyer.apply(without_south, "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert [o.name for o in session.scalars(sa.select(Organization))] == ["north"]
    assert session.scalars(sa.select(OrgDomain.domain)).all() == ["north.acme.test"]


def test_prune_in_the_file_deletes_unlisted_connections_and_counts_their_users(foyer, make_user):
    foyer.apply(BASE)
    tenant = find_tenant("acme")
    partners = session.scalars(
        sa.select(Connection).where(
            Connection.tenant_id == tenant.id, Connection.name == "partners"
        )
    ).one()
    make_user(email="pat@partner.test", connection_=partners)
    text = (
        BASE.replace(
            "  support_email: help@acme.test\n", "  support_email: help@acme.test\n  prune: true\n"
        )
        .replace("  - name: partners\n", "")
        .replace("connections: [staff, partners]", "connections: [staff]")
        .replace("    connections: [partners]\n", "")
    )
    result = foyer.apply(text)
    assert result.exit_code == 0, result.output
    assert "- delete connection partners (and its 1 user)" in result.stdout
    names = session.scalars(sa.select(Connection.name).where(Connection.tenant_id == tenant.id))
    assert names.all() == ["staff"]
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_an_email_domain_can_move_between_organizations(foyer):
    foyer.apply(BASE)
    moved = BASE.replace(
        "      - domain: south.acme.test\n",
        "      - domain: north.acme.test\n",
    ).replace(
        "      - domain: north.acme.test\n        include_subdomains: true\n"
        "        connection: staff\n",
        "      - domain: south.acme.test\n",
        1,
    )
    result = foyer.apply(moved)
    assert result.exit_code == 0, result.output
    assert [d.domain for d in org("north").email_domains] == ["south.acme.test"]
    assert [d.domain for d in org("south").email_domains] == ["north.acme.test"]


def test_a_host_name_can_move_from_the_tenant_to_an_organization(foyer):
    foyer.apply(BASE)
    moved = BASE.replace(
        "domains: [https://login.acme.test, https://auth.acme.test]",
        "domains: [https://login.acme.test]",
    ).replace(
        "    metadata: {region: north}\n",
        "    metadata: {region: north}\n    domains: [auth.acme.test]\n",
    )
    result = foyer.apply(moved)
    assert result.exit_code == 0, result.output
    row = session.scalars(
        sa.select(TenantDomain).where(TenantDomain.hostname == "auth.acme.test")
    ).one()
    assert row.organization_id == org("north").id and not row.is_primary
    assert foyer.apply(moved).stdout.strip() == "tenant acme: no changes"


def test_the_primary_domain_follows_the_first_entry(foyer):
    foyer.apply(BASE)
    swapped = BASE.replace(
        "domains: [https://login.acme.test, https://auth.acme.test]",
        "domains: [https://auth.acme.test, https://login.acme.test]",
    )
    result = foyer.apply(swapped)
    assert 'domains: ["https://login.acme.test", "https://auth.acme.test"] -> ' in result.stdout
    assert find_tenant("acme").base_url == "https://auth.acme.test"


USERS = """
users:
  - connection: partners
    email: Pat@Partner.test
    name: Pat Partner
    email_verified: true
    password: ${PAT_PASSWORD}
    organizations:
      - {name: north, roles: [admin, billing]}
      - {name: south}
"""


def test_users_get_hashed_passwords_and_mirrored_memberships(foyer):
    env = {"PAT_PASSWORD": "pat's long password"}
    result = foyer.apply(BASE + USERS, env=env)
    assert result.exit_code == 0, result.output
    user = session.scalars(sa.select(User)).one()
    assert user.password_hash.startswith("$argon2id$")
    assert "pat's long password" not in result.output
    assert user.app_metadata["organizations"] == ["north", "south"]
    roles = dict(
        session.execute(
            sa.select(Organization.name, Membership.roles).join(
                Membership, Membership.organization_id == Organization.id
            )
        ).all()
    )
    assert roles == {"north": ["admin", "billing"], "south": []}
    assert foyer.apply(BASE + USERS, env=env).stdout.strip() == "tenant acme: no changes"

    fewer = BASE + USERS.replace("      - {name: south}\n", "")
    changed = foyer.apply(fewer, env={"PAT_PASSWORD": "a brand new password"})
    assert "password: (changed)" in changed.stdout
    session.expire_all()
    user = session.scalars(sa.select(User)).one()
    assert user.app_metadata["organizations"] == ["north"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Membership)) == 1


def test_a_user_password_may_be_an_argon2id_hash(foyer):
    from app.security.passwords import hash_password
    from app.security.passwords import verify_password

    hashed = hash_password("hashed password here")
    text = (
        BASE
        + f"""
users:
  - connection: staff
    username: kiosk
    password_hash: '{hashed}'
"""
    )
    result = foyer.apply(text)
    assert result.exit_code == 0, result.output
    user = session.scalars(sa.select(User)).one()
    assert user.password_hash == hashed
    assert verify_password(user.password_hash, "hashed password here")[0]
    assert hashed not in result.output


def test_apply_creates_signing_keys_for_the_algorithms_in_use(foyer):
    from app.oidc.keys import list_keys

    text = BASE.replace(
        "    secret: ${PORTAL_SECRET}\n", "    secret: ${PORTAL_SECRET}\n    id_token_alg: ES256\n"
    )
    assert foyer.apply(text).exit_code == 0
    keys = list_keys(find_tenant("acme").id)
    assert {(k.alg, k.state) for k in keys} == {
        ("RS256", "current"),
        ("RS256", "next"),
        ("ES256", "current"),
        ("ES256", "next"),
    }


def test_the_file_may_come_from_standard_input(foyer):
    from click.testing import CliRunner

    from app.cli import AppContext
    from app.cli import cli

    result = CliRunner().invoke(
        cli, ["apply", "-", "--dry-run"], input=BASE, obj=AppContext(foyer.app), env=foyer.env
    )
    assert result.exit_code == 0, result.output
    assert "+ create tenant acme" in result.stdout
