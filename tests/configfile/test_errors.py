"""Invalid files: every error names the line and the field, exits 1, and writes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.clients.models import Client
from app.db import session
from app.tenancy.models import Tenant
from app.tenancy.services import find_tenant

from .conftest import BASE


def errors(result) -> list[str]:
    assert result.exit_code == 1, result.output
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_unknown_field_names_line_and_field_with_a_hint(foyer):
    text = BASE.replace("    metadata: {region: north}", "    metdata: {region: north}")
    [error] = errors(foyer.apply(text))
    assert f"tenant.yaml:{line_of(text, 'metdata')}:5: organizations[0].metdata:" in error
    assert "unknown field 'metdata' (did you mean 'metadata'?)" in error
    assert find_tenant("acme") is None


def test_wrong_type_names_line_and_field(foyer):
    text = BASE.replace("  - name: partners\n", "  - name: partners\n    signup: maybe\n")
    [error] = errors(foyer.apply(text))
    assert f":{line_of(text, 'signup')}:13: connections[1].signup: expected true or false" in error


def test_every_problem_is_reported_at_once(foyer):
    text = (
        BASE.replace("name: north", "name: North!")
        .replace("https://portal.acme.test/callback", "javascript:alert(1)")
        .replace("domain: south.acme.test", "domain: 'not a domain'")
        .replace("https://auth.acme.test", "auth_acme.test")
    )
    found = errors(foyer.apply(text))
    assert len(found) == 4, found
    assert any("organizations[0].name: 'North!' is not valid: lower-case" in e for e in found)
    assert any(
        "clients[0].redirect_uris[0]: 'javascript:alert(1)' must be https" in e for e in found
    )
    assert any(
        "organizations[1].email_domains[0].domain: 'not a domain' is not a valid host" in e
        for e in found
    )
    assert any("tenant.domains[1]: 'auth_acme.test' is not a valid host name" in e for e in found)


def test_missing_required_field(foyer):
    text = BASE.replace("    name: Customer portal\n", "")
    [error] = errors(foyer.apply(text))
    assert (
        f":{line_of(text, 'client_id: portal')}:5: clients[0].name: missing required field" in error
    )


def test_two_organizations_claiming_one_email_domain_is_a_clear_error(foyer):
    text = BASE.replace("domain: south.acme.test", "domain: NORTH.acme.test")
    [error] = errors(foyer.apply(text))
    assert f":{line_of(text, 'NORTH.acme.test')}:" in error
    assert (
        "organizations[1].email_domains[0].domain: email domain north.acme.test is already "
        f"claimed by 'north' at line {line_of(text, 'domain: north.acme.test')}" in error
    )


def test_an_email_domain_claimed_by_an_organization_missing_from_the_file(foyer):
    assert foyer.apply(BASE).exit_code == 0
    text = BASE.replace(
        "  - name: south\n    display_name: South Division\n",
        "  - name: west\n    display_name: West\n",
    )
    [error] = errors(foyer.apply(text))
    assert "email domain south.acme.test is claimed by organization 'south'" in error
    assert foyer.apply(text, "--prune").exit_code == 0


def test_international_email_domains_are_stored_as_idna(foyer):
    text = BASE.replace("domain: south.acme.test", "domain: Bücher.example")
    assert foyer.apply(text).exit_code == 0
    from app.orgs.models import OrgDomain

    assert "xn--bcher-kva.example" in session.scalars(sa.select(OrgDomain.domain)).all()
    clash = text.replace("domain: north.acme.test", "domain: xn--bcher-kva.example")
    [error] = errors(foyer.apply(clash))
    assert "already claimed" in error


def test_unknown_strategy_is_named_with_a_hint(foyer):
    text = BASE.replace("  - name: partners\n", "  - name: partners\n    strategy: databse\n")
    [error] = errors(foyer.apply(text))
    assert "connections[1].strategy: unknown strategy 'databse'" in error
    assert "(did you mean 'database'?)" in error


def test_references_to_unknown_connections_and_organizations(foyer):
    text = (
        BASE.replace("connections: [partners]", "connections: [partnrs]")
        + """
users:
  - connection: staff
    email: a@north.acme.test
    organizations: [{name: nowhere}]
"""
    )
    found = errors(foyer.apply(text))
    assert any(
        "organizations[1].connections[0]: no connection named 'partnrs' "
        "(did you mean 'partners'?)" in e
        for e in found
    )
    assert any(
        "users[0].organizations[0].name: no organization named 'nowhere'" in e for e in found
    )


def test_an_email_domain_must_route_to_an_enabled_connection(foyer):
    text = BASE.replace(
        "      - domain: south.acme.test\n",
        "      - domain: south.acme.test\n        connection: staff\n",
    )
    [error] = errors(foyer.apply(text))
    assert (
        "organizations[1].email_domains[0].connection: connection 'staff' is not enabled" in error
    )


def test_duplicate_names_point_at_the_first_one(foyer):
    text = BASE.replace("  - name: partners\n", "  - name: staff\n")
    error = errors(foyer.apply(text))[0]
    assert (
        f"connections[1].name: connection name given twice (first at line "
        f"{line_of(text, '  - name: staff')})" in error
    )


def test_a_host_name_of_another_tenant_is_refused(foyer):
    assert foyer.apply(BASE).exit_code == 0
    other = (
        BASE.replace("name: acme", "name: other")
        .replace(
            "domains: [https://login.acme.test, https://auth.acme.test]",
            "domains: [https://other.test, https://AUTH.acme.test]",
        )
        .replace("client_id: portal", "client_id: other-portal")
    )
    [error] = errors(foyer.apply(other))
    assert "tenant.domains[1]: host name auth.acme.test already serves tenant 'acme'" in error


def test_a_client_id_of_another_tenant_is_refused(foyer):
    assert foyer.apply(BASE).exit_code == 0
    other = BASE.replace("name: acme", "name: other").replace(
        "domains: [https://login.acme.test, https://auth.acme.test]", "domains: [other.test]"
    )
    [error] = errors(foyer.apply(other))
    assert "clients[0].client_id: client_id 'portal' is used by another tenant" in error


def test_a_password_written_in_clear_is_refused(foyer):
    text = (
        BASE
        + """
users:
  - connection: staff
    email: a@north.acme.test
    password: hunter2hunter2
"""
    )
    [error] = errors(foyer.apply(text))
    assert "users[0].password: write this as an environment variable reference" in error
    assert "hunter2hunter2" not in error


def test_a_short_password_is_refused_by_the_policy(foyer):
    text = (
        BASE
        + """
users:
  - connection: staff
    email: a@north.acme.test
    password: ${SHORT}
"""
    )
    [error] = errors(foyer.apply(text, env={"SHORT": "short"}))
    assert "users[0].password: the password is refused" in error


def test_a_secret_in_clear_warns(foyer):
    text = BASE.replace("${PORTAL_SECRET}", "a-literal-secret-that-is-long-enough-1234567")
    result = foyer.apply(text)
    assert result.exit_code == 0
    assert (
        "warning:" in result.stderr
        and "clients[0].secret: secret written in clear" in result.stderr
    )
    assert "a-literal-secret" not in result.output


def test_invalid_yaml_names_the_line(foyer):
    text = BASE.replace("  display_name: Acme Inc.", "  display_name: [Acme")
    [error] = errors(foyer.apply(text))
    assert "invalid YAML" in error and "tenant.yaml:" in error


def test_a_strategy_cannot_change(foyer):
    assert foyer.apply(BASE).exit_code == 0
    text = BASE.replace("  - name: partners\n", "  - name: partners\n    strategy: legacy\n")
    found = errors(foyer.apply(text))
    assert any("connections[1].strategy: connection 'partners' uses 'database'" in e for e in found)


def test_a_file_failing_at_its_last_object_leaves_the_database_unchanged(foyer):
    """The last client is invalid: nothing before it is written either."""
    text = (
        BASE
        + """\
  - client_id: broken
    name: Broken
    redirect_uris: [http://evil.test/callback]
"""
    )
    [error] = errors(foyer.apply(text))
    assert "clients[1].redirect_uris[0]" in error
    assert session.scalar(sa.select(sa.func.count()).select_from(Tenant)) == 0


def test_a_failure_while_writing_rolls_everything_back(foyer, monkeypatch):
    """Even an error raised by the database while writing the last object undoes the rest."""
    assert foyer.apply(BASE).exit_code == 0
    changed = (
        BASE.replace("North Division", "North Region")
        + """\
  - client_id: second
    name: Second app
    redirect_uris: [https://second.acme.test/callback]
"""
    )
    import app.configfile.apply as applying

    def failing_create_client(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(applying, "create_client", failing_create_client)
    with pytest.raises(RuntimeError):
        foyer.apply(changed)
    session.expire_all()
    north = session.scalars(sa.select(Client).where(Client.client_id == "second")).one_or_none()
    assert north is None
    from app.orgs.models import Organization

    assert (
        session.scalars(
            sa.select(Organization.display_name).where(Organization.name == "north")
        ).one()
        == "North Division"
    )


def test_a_database_refusal_is_reported_without_a_traceback(foyer, monkeypatch):
    """Another apply may win a race for a unique name: the error is short, nothing is kept."""
    import sqlalchemy.exc

    import app.configfile.apply as applying

    def conflicting_create_client(*args, **kwargs):
        raise sqlalchemy.exc.IntegrityError("INSERT INTO client ...", {}, Exception("dup"))

    monkeypatch.setattr(applying, "create_client", conflicting_create_client)
    [error] = errors(foyer.apply(BASE))
    assert "the database refused the changes (Exception); nothing was applied" in error
    assert "INSERT" not in error
    assert find_tenant("acme") is None


def test_type_reference_and_variable_problems_come_together_in_file_order(foyer):
    text = (
        BASE.replace("  - name: partners\n", "  - name: partners\n    signup: maybe\n")
        .replace("    connections: [partners]\n", "    connections: [partnres]\n")
        .replace("${PORTAL_SECRET}", "${PORTAL_SECRT}")
        .replace("    metadata: {region: north}", "    metdata: {region: north}")
    )
    found = errors(foyer.apply(text))
    assert len(found) == 4, found
    lines = [int(e.split(":")[2]) for e in found]
    assert lines == sorted(lines)
    assert "connections[1].signup: expected true or false" in found[0]
    assert "unknown field 'metdata'" in found[1]
    assert "no connection named 'partnres' (did you mean 'partners'?)" in found[2]
    assert "PORTAL_SECRT" in found[3]
    assert find_tenant("acme") is None
