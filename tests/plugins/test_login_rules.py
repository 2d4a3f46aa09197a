"""Login rules through the hosted login pages: the builtin membership rule and the examples.

Two organizations of one tenant, each on its vanity host, share the ``users`` connection (a
shared pool): a rule enabled for one changes its sign-ins only.
"""

from __future__ import annotations

import pytest

from app.db import session
from app.orgs.services import add_member
from app.tenancy.models import TenantDomain
from app.testing import USER_PASSWORD
from app.testing import FlowStopped
from app.testing import host_client
from app.testing import login
from app.testing import run_authorization_code_flow


@pytest.fixture
def orgs(tenant, make_organization):
    west, east = make_organization("west", "West Corp"), make_organization("east", "East Corp")
    for org in (west, east):
        host = TenantDomain(hostname=f"{org.name}.login.test", organization_id=org.id)
        tenant.domains.append(host)
    session.commit()
    return west, east


@pytest.fixture
def member(user, orgs):
    for org in orgs:
        add_member(org, user)
    session.commit()
    return user


def sign_in_at(foyer_app, org, email="alice@example.com", password=USER_PASSWORD):
    return login(host_client(foyer_app, f"{org.name}.login.test"), email, password)


def test_members_sign_in_to_both_organizations(foyer_app, member, orgs, recorded_events):
    for org in orgs:
        response = sign_in_at(foyer_app, org)
        assert response.status_code == 303, response.get_data(as_text=True)
    assert [e.organization_id for e in recorded_events("login_succeeded")] == [o.id for o in orgs]


def test_shared_pool_user_who_is_not_a_member_is_refused(foyer_app, user, orgs, recorded_events):
    west, east = orgs
    add_member(west, user)
    session.commit()
    assert sign_in_at(foyer_app, west).status_code == 303
    refused = sign_in_at(foyer_app, east)
    assert refused.status_code == 403
    assert "not a member of East Corp" in refused.get_data(as_text=True)
    [denied] = recorded_events("login_denied")
    assert (denied.data["code"], denied.organization_id) == ("not_a_member", east.id)


def test_app_metadata_organizations_grants_entry(foyer_app, user, orgs):
    west, _east = orgs
    user.app_metadata = {"organizations": ["west"]}
    session.commit()
    assert sign_in_at(foyer_app, west).status_code == 303


def test_dedicated_connection_holds_isolated_users(
    foyer_app, tenant, make_connection, make_organization, make_user
):
    own = make_connection("solo-users")
    solo = make_organization("solo", "Solo", connections=[own])
    tenant.domains.append(TenantDomain(hostname="solo.login.test", organization_id=solo.id))
    session.commit()
    make_user(email="sam@solo.test", connection_=own)
    assert sign_in_at(foyer_app, solo, "sam@solo.test").status_code == 303


def test_ip_rule_for_one_organization_leaves_the_other_alone(
    foyer_app, member, orgs, enable_plugin, recorded_events
):
    west, east = orgs
    enable_plugin("deny_ip_ranges", {"cidrs": ["127.0.0.0/8", "::1/128"]}, organization=west)
    refused = sign_in_at(foyer_app, west)
    assert refused.status_code == 403
    assert "not allowed for this organization" in refused.get_data(as_text=True)
    assert sign_in_at(foyer_app, east).status_code == 303
    [denied] = recorded_events("login_denied")
    assert denied.data["code"] == "ip_denied"
    enable_plugin("deny_ip_ranges", {"cidrs": ["203.0.113.0/24"]}, organization=west)
    assert sign_in_at(foyer_app, west).status_code == 303


def test_verified_email_rule(foyer_app, make_user, orgs, enable_plugin):
    west, east = orgs
    unverified = make_user(email="uma@example.com", email_verified=False)
    for org in orgs:
        add_member(org, unverified)
    session.commit()
    enable_plugin("require_verified_email", organization=east)
    assert sign_in_at(foyer_app, west, "uma@example.com").status_code == 303
    refused = sign_in_at(foyer_app, east, "uma@example.com")
    assert refused.status_code == 403
    assert "Verify your email address" in refused.get_data(as_text=True)


def test_a_denied_sign_in_never_reaches_the_application(
    foyer_app, member, orgs, oidc_client, enable_plugin
):
    west, east = orgs
    model, secret = oidc_client
    enable_plugin("deny_ip_ranges", {"cidrs": ["127.0.0.0/8"]}, organization=west)
    with pytest.raises(FlowStopped) as stopped:
        run_authorization_code_flow(
            host_client(foyer_app, "west.login.test"),
            model,
            secret,
            "alice@example.com",
            USER_PASSWORD,
        )
    assert stopped.value.response.status_code == 403
    result = run_authorization_code_flow(
        host_client(foyer_app, "east.login.test"),
        model,
        secret,
        "alice@example.com",
        USER_PASSWORD,
    )
    assert result.id_token["org_id"] == east.id
    assert result.userinfo["sub"] == member.id
