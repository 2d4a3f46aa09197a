"""Failures on the sign-in path, through the hosted pages: a login rule that raises or hangs,
a legacy store that is down. The user sees a clear page with the organization's support
contact; an event names the plugin and hook; nothing is created half-way; the other
organization signs in as usual.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from app import hookimpl
from app.accounts.models import User
from app.db import session
from app.orgs.services import add_member
from app.tenancy.models import TenantDomain
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login

BOB_PASSWORD = "bob's old password"


@pytest.fixture
def orgs(tenant, make_organization, user):
    west = make_organization("west", "West Corp", branding={"support_email": "help@west.test"})
    east = make_organization("east", "East Corp", branding={"support_email": "help@east.test"})
    for org in (west, east):
        host = TenantDomain(hostname=f"{org.name}.login.test", organization_id=org.id)
        tenant.domains.append(host)
        add_member(org, user)
    session.commit()
    return west, east


class RaisingRule:
    FOYER_SCOPED = True

    @hookimpl
    def check_login(self, context):
        raise ConnectionError("risk engine down")


class HangingRule:
    FOYER_SCOPED = True

    @hookimpl
    def check_login(self, context):
        time.sleep(30)


@pytest.mark.parametrize("rule", [RaisingRule(), HangingRule()], ids=["raises", "hangs"])
def test_failing_login_rule_shows_the_organizations_support_and_spares_the_other(
    foyer_app, orgs, register_plugin, enable_plugin, recorded_events, rule
):
    foyer_app.extensions["foyer.settings"].plugin_timeout = 0.5
    west, east = orgs
    register_plugin(rule, name="risk-check")
    enable_plugin("risk-check", organization=west)
    started = time.monotonic()
    page = login(host_client(foyer_app, "west.login.test"), "alice@example.com", USER_PASSWORD)
    assert time.monotonic() - started < 5
    html = page.get_data(as_text=True)
    assert page.status_code == 502
    assert 'id="error-title"' in html and "help@west.test" in html
    [failed] = recorded_events("plugin_failed")
    assert (failed.data["plugin"], failed.data["hook"]) == ("risk-check", "check_login")
    assert failed.organization_id == west.id
    assert recorded_events("login_succeeded") == []
    east_page = login(host_client(foyer_app, "east.login.test"), "alice@example.com", USER_PASSWORD)
    assert east_page.status_code == 303


@pytest.fixture
def legacy_org(tenant, make_connection, make_organization, legacy_db):
    path = legacy_db
    options = {"store": "legacy_sqlite", "path": str(path)}
    old = make_connection("old-app", "legacy", options=options)
    org = make_organization(
        "oldco", "Old Co", connections=[old], branding={"support_email": "help@oldco.test"}
    )
    tenant.domains.append(TenantDomain(hostname="oldco.login.test", organization_id=org.id))
    session.commit()
    return org, path


def _users():
    return session.scalar(sa.select(sa.func.count()).select_from(User))


def test_legacy_user_signs_in_through_the_pages_then_without_the_store(
    foyer_app, legacy_org, recorded_events
):
    _org, path = legacy_org
    browser = host_client(foyer_app, "oldco.login.test")
    wrong = login(browser, "bob@old.test", "not bob's password")
    unknown = login(browser, "nobody@old.test", BOB_PASSWORD)
    for page in (wrong, unknown):  # the same answer: nothing tells the two apart
        assert page.status_code == 400
        assert "Wrong email or password." in page.get_data(as_text=True)
    assert _users() == 0
    assert login(browser, "bob@old.test", BOB_PASSWORD).status_code == 303
    assert _users() == 1
    path.unlink()  # the old store is switched off
    again = login(host_client(foyer_app, "oldco.login.test"), "bob@old.test", BOB_PASSWORD)
    assert again.status_code == 303
    assert len(recorded_events("login_succeeded")) == 2


def test_legacy_store_down_shows_try_again_later_and_creates_nothing(foyer_app, legacy_org):
    _org, path = legacy_org
    path.unlink()
    page = login(host_client(foyer_app, "oldco.login.test"), "bob@old.test", BOB_PASSWORD)
    html = page.get_data(as_text=True)
    assert page.status_code == 503
    assert "Try again in a few minutes." in html and "help@oldco.test" in html
    assert _users() == 0
