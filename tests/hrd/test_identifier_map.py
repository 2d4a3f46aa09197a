"""The identifier-to-realm map: exact identifiers and glob patterns, kept by admins (config
as code, ``foyer hrd map``) and found fast (indexed exact entries, cached patterns)."""

from __future__ import annotations

import textwrap
import time

import pytest
from click.testing import CliRunner

from app.cli import AppContext
from app.cli import cli
from app.db import session
from app.hrd import glob
from app.hrd.cli import register_commands
from app.hrd.identifier_map import RouteInvalid
from app.hrd.identifier_map import find_route
from app.hrd.identifier_map import normalize_entry
from app.hrd.identifier_map import routes
from app.hrd.identifier_map import set_route
from tests.hrd.conftest import PASSWORDS
from tests.hrd.conftest import sign_in

register_commands(cli)


def test_exact_entry_routes_through_the_real_flow(
    client, world, tenant, app_client, recorded_events
):
    set_route(tenant, "Carla@Consultants.example", world.initech, world.partners)
    session.commit()
    app, secret = app_client
    tokens = sign_in(client, app, secret, "carla@consultants.example", PASSWORDS["carla"])
    assert tokens.id_token["org_name"] == "initech"
    [event] = recorded_events("login_succeeded")
    assert event.data["hrd"][0] == {
        "method": "identifier_map",
        "detail": "entry carla@consultants.example",
        "organization": world.initech.id,
        "connection": world.partners.id,
    }


def test_pattern_routes_a_whole_group(client, world, tenant, app_client, recorded_events):
    set_route(tenant, "*@consultants.example", world.globex)
    session.commit()
    app, secret = app_client
    tokens = sign_in(client, app, secret, "dora@consultants.example", PASSWORDS["dora"])
    assert tokens.id_token["org_name"] == "globex"
    [event] = recorded_events("login_succeeded")
    methods = [s["method"] for s in event.data["hrd"]]
    assert methods == ["identifier_map", "user_lookup"]  # the organization's pool decides
    assert event.data["hrd"][0]["detail"] == "pattern *@consultants.example"


def test_exact_entry_wins_then_the_most_specific_pattern(world, tenant):
    set_route(tenant, "*@consultants.example", world.globex)
    set_route(tenant, "carla*@consultants.example", world.initech)
    set_route(tenant, "*a*", world.acme)
    set_route(tenant, "dora@consultants.example", world.acme)
    session.commit()
    assert find_route(tenant, "carla.b@consultants.example").entry == "carla*@consultants.example"
    assert find_route(tenant, "zed@consultants.example").entry == "*@consultants.example"
    assert find_route(tenant, "DORA@consultants.example").entry == "dora@consultants.example"
    assert find_route(tenant, "banana").entry == "*a*"
    assert find_route(tenant, "xyz") is None


def test_a_change_is_seen_at_once_by_the_cached_patterns(world, tenant):
    set_route(tenant, "*@consultants.example", world.globex)
    session.commit()
    assert find_route(tenant, "x@consultants.example").organization_id == world.globex.id
    set_route(tenant, "*@consultants.example", world.initech)
    session.commit()
    assert find_route(tenant, "x@consultants.example").organization_id == world.initech.id


@pytest.mark.parametrize(
    ("value", "stored", "pattern"),
    [
        ("Bob@Bücher.Example", "bob@xn--bcher-kva.example", False),
        ("*@Bücher.example", "*@xn--bcher-kva.example", True),
        ("jdoe", "jdoe", False),
        ("a?c@*.example", "a?c@*.example", True),
    ],
)
def test_entries_are_normalized(value, stored, pattern):
    assert normalize_entry(value) == (stored, pattern)


@pytest.mark.parametrize(
    "value", ["", "   ", "*", "**?", "a b*", "*" * 9 + "a", "*@bad_label!.example"]
)
def test_unusable_entries_are_refused(value):
    with pytest.raises(RouteInvalid):
        normalize_entry(value)


def test_an_entry_needs_a_realm_of_its_tenant_and_enabled_connections(world, tenant):
    with pytest.raises(RouteInvalid, match="name an organization"):
        set_route(tenant, "a@b.example")
    with pytest.raises(RouteInvalid, match="not enabled"):
        set_route(tenant, "a@b.example", world.acme, world.partners)


def test_glob_matching_is_linear_on_hostile_input():
    pattern = "*a*a*a*a*a*a*a*b"
    text = "a" * 5000
    started = time.perf_counter()
    assert not glob.matches(pattern, text)
    assert time.perf_counter() - started < 0.5
    assert glob.matches("a*b?d", "axxbcd") and not glob.matches("a*b?d", "axxbd")
    assert glob.matches("*", "") and not glob.matches("?", "")


def test_config_file_section_applies_plans_and_exports(foyer_app, world, tenant, tmp_path):
    from app.configfile.cli import register_commands
    from app.configfile.export import dump

    register_commands(cli)
    path = tmp_path / "map.yaml"
    path.write_text(
        textwrap.dedent("""\
        version: 1
        tenant: {name: acme, display_name: Acme Inc., domains: [https://login.test]}
        identifier_map:
          - {identifier: "*@Consultants.example", organization: globex}
          - {identifier: Carla@consultants.example, organization: initech, connection: partners}
    """)
    )
    runner = CliRunner()
    dry = runner.invoke(cli, ["apply", "--dry-run", str(path)], obj=AppContext(foyer_app))
    assert dry.exit_code == 0, dry.output
    assert "+ create identifier map entry *@consultants.example" in dry.output
    applied = runner.invoke(cli, ["apply", str(path)], obj=AppContext(foyer_app))
    assert applied.exit_code == 0, applied.output
    assert [r.identifier for r in routes(tenant)] == [
        "*@consultants.example",
        "carla@consultants.example",
    ]
    again = runner.invoke(cli, ["apply", "--dry-run", str(path)], obj=AppContext(foyer_app))
    assert "no changes" in again.output
    exported = dump(tenant)
    assert "identifier_map:" in exported
    assert "- identifier: carla@consultants.example" in exported


def test_config_file_checks_the_realm_of_each_entry(foyer_app, world, tmp_path):
    from app.configfile.cli import register_commands

    register_commands(cli)
    path = tmp_path / "bad.yaml"
    path.write_text(
        textwrap.dedent("""\
        version: 1
        tenant: {name: acme, display_name: Acme Inc., domains: [https://login.test],
                 hrd: {order: [email_domain, email_domain, crm]}}
        identifier_map:
          - {identifier: "a@b.example"}
          - {identifier: "c@d.example", organization: acme, connection: partners}
          - {identifier: "e@f.example", organization: hooli}
          - {identifier: "A@b.example", organization: acme}
    """)
    )
    result = CliRunner().invoke(cli, ["apply", str(path)], obj=AppContext(foyer_app))
    assert result.exit_code != 0
    for expected in (
        "give an organization, a connection or both",
        "connection 'partners' is not enabled for organization 'acme'",
        "no organization named 'hooli'",
        "identifier map entry given twice",
        "'email_domain' is listed twice",
        "no discovery method named 'crm'",
    ):
        assert expected in result.output, expected
    path.write_text(
        textwrap.dedent("""\
        version: 1
        tenant: {name: acme, display_name: Acme Inc., domains: [https://login.test]}
        identifier_map: [{identifier: "*", organization: acme}]
    """)
    )
    result = CliRunner().invoke(cli, ["apply", str(path)], obj=AppContext(foyer_app))
    assert "identifier_map[0].identifier: '*': a pattern needs at least one literal" in (
        result.output
    )


def test_command_line_sets_lists_and_removes(foyer_app, world, tenant):
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(
            cli, ["hrd", "map", *args, "--tenant", "acme"], obj=AppContext(foyer_app)
        )

    added = run("set", "*@consultants.example", "--organization", "globex")
    assert added.exit_code == 0, added.output
    assert run("list").output == "*@consultants.example\tglobex\t-\n"
    refused = run("set", "x@y.example", "--organization", "acme", "--connection", "partners")
    assert refused.exit_code == 1 and "not enabled" in refused.output
    assert run("remove", "*@consultants.example").exit_code == 0
    assert run("list").output == ""
    assert run("remove", "*@consultants.example").exit_code == 1
