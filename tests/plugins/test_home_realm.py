"""``home_realm_for_identifier`` routes an identifier through the hosted pages."""

from __future__ import annotations

import pytest

from app import hookimpl
from app.connections.services import find_connection
from app.hrd.realm import HomeRealm
from app.testing import login

BOB_PASSWORD = "bob's old password"


class RouteOldDomain:
    """Send ``@old.test`` addresses to the legacy connection (users Foyer does not hold yet)."""

    FOYER_SCOPED = True

    @hookimpl
    def home_realm_for_identifier(self, identifier, tenant):
        if identifier.lower().endswith("@old.test"):
            return HomeRealm(find_connection(tenant, "old-app"), detail="old.test domain")
        return None


class RouteElsewhere:
    FOYER_SCOPED = True

    def __init__(self, connection):
        self.connection = connection

    @hookimpl
    def home_realm_for_identifier(self):
        return HomeRealm(self.connection, detail="elsewhere")


@pytest.fixture
def old_app(tenant, connection, make_connection, legacy_db):
    return make_connection(
        "old-app", "legacy", options={"store": "legacy_sqlite", "path": str(legacy_db)}
    )


def test_plugin_routes_a_domain_to_its_connection(
    foyer_app, client, old_app, user, register_plugin, enable_plugin, recorded_events
):
    assert login(client, "bob@old.test", BOB_PASSWORD).status_code == 400  # first connection
    register_plugin(RouteOldDomain(), name="route-old")
    enable_plugin("route-old")
    assert login(client, "bob@old.test", BOB_PASSWORD).status_code == 303
    [event] = recorded_events("login_succeeded")
    assert event.connection_id == old_app.id
    assert event.data["hrd"][-1]["method"] == "plugin"
    assert event.data["hrd"][-1]["detail"] == "old.test domain"
    from app.testing import USER_PASSWORD
    from app.testing import host_client

    other_browser = host_client(foyer_app)
    assert login(other_browser, "alice@example.com", USER_PASSWORD).status_code == 303


def test_answer_naming_another_tenants_connection_is_ignored(
    foyer_app, client, user, register_plugin, enable_plugin
):
    from app.connections.services import create_connection
    from app.db import session
    from app.tenancy.services import create_tenant
    from app.testing import USER_PASSWORD

    other = create_tenant("other", "Other", ["https://other.test"])
    foreign = create_connection(other, "users")
    session.commit()
    register_plugin(RouteElsewhere(foreign), name="route-elsewhere")
    enable_plugin("route-elsewhere")
    assert login(client, "alice@example.com", USER_PASSWORD).status_code == 303
