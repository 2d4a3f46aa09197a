"""Claims rules through the real token flow: /authorize, /oauth/token, /userinfo.

Two organizations of one tenant: the example ``org_claims`` plugin is enabled for one; its
tokens carry the namespaced claims, the other's are untouched.
"""

from __future__ import annotations

import pytest

from app import hookimpl
from app.orgs.services import add_member
from app.testing import authorize
from app.testing import decode_jwt
from app.testing import exchange_code
from app.testing import sign_in

NS = "https://login.test/claims/"


@pytest.fixture
def orgs(make_organization, user, enable_plugin):
    west, east = make_organization("west", "West Corp"), make_organization("east", "East Corp")
    add_member(west, user, roles=["billing", "admin"])
    add_member(east, user, roles=["viewer"])
    enable_plugin("org_claims", organization=west)
    return west, east


def tokens_for(client, oidc_client, user, organization):
    model, secret = oidc_client
    sign_in(client, user, organization=organization)
    result = authorize(client, model, organization=organization.name)
    response = exchange_code(client, model, result, secret)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    userinfo = client.get(
        "/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    ).get_json()
    return (
        decode_jwt(client, body["id_token"]),
        decode_jwt(client, body["access_token"]),
        userinfo,
    )


def test_org_claims_plugin_changes_only_the_enabling_organization(
    foyer_app, client, oidc_client, user, orgs
):
    west, east = orgs
    id_token, access_token, userinfo = tokens_for(client, oidc_client, user, west)
    expected_org = {"id": west.id, "name": "west", "display_name": "West Corp"}
    for claims in (id_token, access_token, userinfo):
        assert claims[f"{NS}organization"] == expected_org
        assert claims[f"{NS}roles"] == ["admin", "billing"]
    assert id_token["org_id"] == west.id and id_token["sub"] == user.id

    id_token, access_token, userinfo = tokens_for(client, oidc_client, user, east)
    for claims in (id_token, access_token, userinfo):
        assert not [name for name in claims if name.startswith(NS)]
    assert id_token["org_id"] == east.id


def test_org_claims_settings_choose_targets_and_roles(
    foyer_app, client, oidc_client, user, orgs, enable_plugin
):
    west, _east = orgs
    enable_plugin("org_claims", {"roles": False, "targets": ["id_token"]}, organization=west)
    id_token, access_token, _userinfo = tokens_for(client, oidc_client, user, west)
    assert f"{NS}organization" in id_token and f"{NS}roles" not in id_token
    assert f"{NS}organization" not in access_token


class Overreaching:
    FOYER_SCOPED = True

    @hookimpl
    def extra_token_claims(self, target):
        return {"sub": "someone-else", "org_id": "other-org", "https://x.test/ok": target}


def test_protected_claims_are_never_overwritten_and_the_attempt_is_logged(
    foyer_app, client, oidc_client, user, orgs, register_plugin, enable_plugin, recorded_events
):
    west, _east = orgs
    register_plugin(Overreaching(), name="overreaching")
    enable_plugin("overreaching", organization=west)
    id_token, access_token, userinfo = tokens_for(client, oidc_client, user, west)
    assert (id_token["sub"], id_token["org_id"]) == (user.id, west.id)
    assert (userinfo["sub"], access_token["sub"]) == (user.id, user.id)
    assert id_token["https://x.test/ok"] == "id_token"
    rejected = recorded_events("claim_rejected")
    assert {(e.data["plugin"], e.data["claim"]) for e in rejected} >= {
        ("overreaching", "sub"),
        ("overreaching", "org_id"),
    }


class Broken:
    FOYER_SCOPED = True

    @hookimpl
    def extra_token_claims(self):
        raise RuntimeError("claims backend down")


def test_raising_claims_rule_fails_only_its_organizations_token_request(
    foyer_app, client, oidc_client, user, orgs, register_plugin, enable_plugin, recorded_events
):
    west, east = orgs
    register_plugin(Broken(), name="broken-claims")
    enable_plugin("broken-claims", organization=east)
    tokens_for(client, oidc_client, user, west)
    assert recorded_events("plugin_failed") == []

    model, secret = oidc_client
    sign_in(client, user, organization=east)
    result = authorize(client, model, organization="east")
    response = exchange_code(client, model, result, secret)
    assert response.status_code == 500
    assert response.get_json()["error"] == "server_error"  # no token missing expected claims
    [failed] = recorded_events("plugin_failed")
    assert (failed.data["plugin"], failed.data["hook"]) == ("broken-claims", "extra_token_claims")
    assert failed.organization_id == east.id
    tokens_for(client, oidc_client, user, west)  # the other organization carries on
