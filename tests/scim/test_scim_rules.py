"""SCIM's own rules: a token provisions its organization only, revoked tokens stop at once,
errors are SCIM error bodies, filters and PATCH refuse what they do not understand."""

from __future__ import annotations

from app.scim.tokens import create_scim_token
from app.scim.tokens import revoke_scim_token
from tests.scim.conftest import Scim

USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "grace@okta-corp.example",
    "emails": [{"value": "grace@okta-corp.example", "primary": True}],
    "active": True,
}


def test_a_token_provisions_only_its_organization(client, scim, make_organization):
    other = make_organization("other-corp")
    _row, other_token = create_scim_token(other, "idp")
    created = scim("POST", "/Users", USER)
    assert created.status_code == 201
    # the other organization's token, on this organization's path
    foreign = Scim(client, scim.organization, other_token)
    answer = foreign("GET", "/Users")
    assert answer.status_code == 401
    assert answer.get_json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    # the other organization sees none of this one's users
    theirs = Scim(client, other, other_token)
    assert theirs("GET", "/Users").get_json()["totalResults"] == 0
    assert theirs("GET", f"/Users/{created.get_json()['id']}").status_code == 404
    assert scim("GET", "/Users", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_revoked_token_stops_at_once(client, provisioned_org):
    row, token = create_scim_token(provisioned_org, "idp")
    scim = Scim(client, provisioned_org, token)
    assert scim("GET", "/ServiceProviderConfig").status_code == 200
    assert revoke_scim_token(provisioned_org, row.id)
    assert scim("GET", "/ServiceProviderConfig").status_code == 401


def test_errors_are_scim_bodies(scim):
    for method, path, body, status in (
        ("GET", "/Nothing", None, 404),
        ("GET", "/Users?filter=userName%20gt%20%22a%22", None, 400),
        ("GET", "/Users?filter=title%20eq%20%22a%22", None, 400),
        ("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}, 400),
        ("PATCH", "/Users/unknown", {"Operations": []}, 404),
        ("DELETE", "/Groups/unknown", None, 404),
    ):
        answer = scim(method, path, body)
        assert answer.status_code == status, (method, path, answer.get_data(as_text=True))
        assert answer.get_json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert answer.get_json()["status"] == str(status)


def test_patch_refuses_what_it_does_not_understand(scim):
    user = scim("POST", "/Users", USER).get_json()
    for operations in (
        [{"op": "move", "path": "active", "value": False}],
        [{"op": "replace", "path": "nickName", "value": "G"}],
        [{"op": "replace", "path": "active", "value": "maybe"}],
        "not a list",
    ):
        answer = scim("PATCH", f"/Users/{user['id']}", {"Operations": operations})
        assert answer.status_code == 400, operations
    assert scim("GET", f"/Users/{user['id']}").get_json()["active"] is True


def test_filters_eq_co_sw(scim):
    for name in ("ann@a.example", "anna@b.example", "bob@a.example"):
        scim("POST", "/Users", {**USER, "userName": name, "emails": [{"value": name}]})

    def names(expression: str) -> set[str]:
        found = scim("GET", "/Users", query_string={"filter": expression}).get_json()
        return {r["userName"] for r in found["Resources"]}

    assert names('userName eq "ANN@a.example"') == {"ann@a.example"}
    assert names('userName sw "ann"') == {"ann@a.example", "anna@b.example"}
    assert names('emails co "@a.example"') == {"ann@a.example", "bob@a.example"}
    assert names('userName sw "ann" and emails co "@b."') == {"anna@b.example"}


def test_an_organization_over_its_rate_limit_waits(scim, foyer_app):
    foyer_app.extensions["foyer.settings"].rate_limit_api = "2 per minute"
    answers = [scim("GET", "/ServiceProviderConfig").status_code for _ in range(3)]
    assert answers == [200, 200, 429]


def test_versions_guard_changes_with_if_match(scim):
    created = scim("POST", "/Users", USER)
    user = created.get_json()
    version = user["meta"]["version"]
    assert created.headers["ETag"] == version and version.startswith('W/"')
    path = f"/Users/{user['id']}"
    assert scim("GET", path).headers["ETag"] == version
    rename = {"Operations": [{"op": "replace", "path": "name.givenName", "value": "Grace"}]}
    changed = scim("PATCH", path, rename, headers={"If-Match": version})
    assert changed.status_code == 200
    newer = changed.get_json()["meta"]["version"]
    assert newer != version
    replacement = {**USER, "name": {"givenName": "G"}}
    for method, body in (("PATCH", rename), ("PUT", replacement), ("DELETE", None)):
        stale = scim(method, path, body, headers={"If-Match": version})
        assert stale.status_code == 412, (method, stale.get_json())
        assert stale.get_json()["status"] == "412"
    assert scim("GET", path).get_json()["name"]["givenName"] == "Grace"
    assert scim("PUT", path, replacement, headers={"If-Match": newer}).status_code == 200
    group = scim("POST", "/Groups", {"displayName": "Admins", "members": []}).get_json()
    gpath = f"/Groups/{group['id']}"
    stale = scim("DELETE", gpath, headers={"If-Match": 'W/"0"'})
    assert stale.status_code == 412
    assert scim("DELETE", gpath, headers={"If-Match": group["meta"]["version"]}).status_code == 204


def test_sort_by_and_sort_order(scim):
    for name in ("bob@a.example", "ann@a.example", "cid@a.example"):
        scim("POST", "/Users", {**USER, "userName": name, "emails": [{"value": name}]})

    def names(**query: str) -> list[str]:
        found = scim("GET", "/Users", query_string=query).get_json()
        return [r["userName"] for r in found["Resources"]]

    assert names(sortBy="userName") == ["ann@a.example", "bob@a.example", "cid@a.example"]
    assert names(sortBy="userName", sortOrder="descending") == [
        "cid@a.example",
        "bob@a.example",
        "ann@a.example",
    ]
    assert scim("GET", "/Users", query_string={"sortBy": "title"}).status_code == 400
    config = scim("GET", "/ServiceProviderConfig").get_json()
    assert config["sort"]["supported"] and config["etag"]["supported"]
    assert not config["bulk"]["supported"]
