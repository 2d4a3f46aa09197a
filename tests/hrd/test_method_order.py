"""Every method is a plugin of the ``register_home_realm_methods`` family, tried in the
tenant's configured order; an integrator adds one (a CRM lookup) the same way."""

from __future__ import annotations

import pytest

from app import hookimpl
from app.connections.services import find_connection
from app.db import session
from app.hrd.chain import DEFAULT_ORDER
from app.hrd.chain import registered_methods
from app.hrd.explain import explain
from app.hrd.identifier_map import set_route
from app.hrd.method import IDENTIFIER
from app.hrd.method import HrdContext
from app.hrd.realm import HomeRealm
from app.orgs.services import find_organization_by_name
from tests.hrd.conftest import PASSWORDS
from tests.hrd.conftest import UpstreamPlugin
from tests.hrd.conftest import authorize
from tests.hrd.conftest import sign_in
from tests.hrd.conftest import text
from tests.hrd.conftest import type_identifier


class CrmLookup:
    """An integrator's method: the CRM knows which customer a person works for."""

    name = "crm"
    stages = (IDENTIFIER,)
    public = False
    asked: list[str] = []

    def resolve(self, context: HrdContext) -> HomeRealm | None:
        self.asked.append(context.identifier or "")
        if (context.identifier or "").startswith("dora@"):
            return HomeRealm(
                organization=find_organization_by_name(context.tenant, "initech"),
                detail="CRM account 4711",
            )
        return None


class CrmPlugin:
    @hookimpl
    def register_home_realm_methods(self) -> list[object]:
        return [CrmLookup()]


@pytest.fixture
def foyer_plugins() -> list[object]:
    return [UpstreamPlugin(), CrmPlugin()]


def set_order(tenant, order):
    tenant.settings = {**(tenant.settings or {}), "hrd": {"order": order}}
    session.commit()


def test_builtin_methods_are_registered_plugins(foyer_app):
    methods = registered_methods()
    assert set(DEFAULT_ORDER) <= set(methods)
    plugin_names = {
        foyer_app.extensions["foyer.pm"].get_name(p)
        for p in foyer_app.extensions["foyer.pm"].get_plugins()
    }
    for module in (
        "app.hrd.by_parameter",
        "app.hrd.by_host",
        "app.hrd.by_plugin",
        "app.hrd.by_identifier_map",
        "app.hrd.by_email_domain",
        "app.hrd.by_user_lookup",
    ):
        assert module in plugin_names


def test_a_plugin_method_runs_only_where_the_tenant_lists_it(
    client, world, tenant, app_client, recorded_events
):
    CrmLookup.asked = []
    app, secret = app_client
    tokens = sign_in(client, app, secret, "dora@consultants.example", PASSWORDS["dora"])
    assert "org_name" not in tokens.id_token and CrmLookup.asked == []

    set_order(tenant, ["crm", *DEFAULT_ORDER])
    tokens = sign_in(
        client, app, secret, "dora@consultants.example", PASSWORDS["dora"], prompt="login"
    )
    assert tokens.id_token["org_name"] == "initech"
    assert CrmLookup.asked == ["dora@consultants.example"]
    event = recorded_events("login_succeeded")[-1]
    assert event.data["hrd"][0]["method"] == "crm"
    assert event.data["hrd"][0]["detail"] == "CRM account 4711"


def test_the_order_decides_which_method_answers(client, world, tenant, app_client):
    set_route(tenant, "alice@acme.example", world.initech)  # an admin's override
    session.commit()
    page, _request = authorize(client, app_client[0])
    assert "Initech" in text(type_identifier(client, page, "alice@acme.example"))
    set_order(tenant, ["email_domain", "identifier_map", "user_lookup"])
    page, _request = authorize(client, app_client[0])
    assert "Acme Corporation" in text(type_identifier(client, page, "alice@acme.example"))


def test_a_method_left_out_of_the_order_is_off(client, world, tenant, app_client):
    set_order(tenant, ["organization_parameter", "user_lookup"])  # no email domains
    page, _request = authorize(client, app_client[0])
    answer = type_identifier(client, page, "alice@acme.example")
    assert "Acme Corporation" not in text(answer)  # acme's domain no longer routes


def test_plugin_hook_may_name_only_an_organization(
    client, world, app_client, register_plugin, enable_plugin
):
    class Directory:
        FOYER_SCOPED = True

        @hookimpl
        def home_realm_for_identifier(self, identifier, tenant):
            if identifier.startswith("carla@"):
                return HomeRealm(
                    organization=find_organization_by_name(tenant, "initech"), detail="directory"
                )
            return None

    register_plugin(Directory(), name="directory")
    enable_plugin("directory")
    app, secret = app_client
    tokens = sign_in(client, app, secret, "carla@consultants.example", PASSWORDS["carla"])
    assert tokens.id_token["org_name"] == "initech"


def test_plugin_answer_for_another_organization_is_ignored_and_traced(
    client, world, tenant, app_client, register_plugin, enable_plugin
):
    class Wrong:
        FOYER_SCOPED = True

        @hookimpl
        def home_realm_for_identifier(self, tenant):
            return HomeRealm(find_connection(tenant, "acme-staff"), detail="always acme")

    register_plugin(Wrong(), name="wrong")
    enable_plugin("wrong")
    app, secret = app_client
    tokens = sign_in(
        client, app, secret, "gina@globex.example", PASSWORDS["gina"], organization="globex"
    )
    assert tokens.id_token["org_name"] == "globex"
    steps = explain(
        tenant, params={"organization": "globex"}, identifier="gina@globex.example"
    ).identifier_steps
    plugin = next(s for s in steps if s.method == "plugin")
    assert plugin.outcome == "ignored"
    assert "not enabled for globex" in plugin.detail
