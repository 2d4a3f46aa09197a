"""Claims rules: the ``extra_token_claims`` hook, protected claims, organization claims."""

from __future__ import annotations

from app import hookimpl


class RolesRule:
    """Adds roles everywhere, and tries to overwrite protected claims."""

    @hookimpl
    def extra_token_claims(self, target, user, scopes):
        return {
            "https://acme.test/roles": ["admin"],
            "sub": "someone-else",
            "org_id": "forged",
            "grant_id": "forged",
            "name": f"{user.name} (Acme)",
            "target": target,
        }


def test_plugin_claims_reach_every_target(client, issue_tokens, register_plugin, decode):
    register_plugin(RolesRule(), name="roles")
    tokens = issue_tokens()
    id_token = decode(tokens["id_token"]).claims
    access = decode(tokens["access_token"]).claims
    info = client.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).get_json()
    assert (id_token["target"], access["target"], info["target"]) == (
        "id_token",
        "access_token",
        "userinfo",
    )
    for claims in (id_token, access, info):
        assert claims["https://acme.test/roles"] == ["admin"]


def test_plugin_may_reword_a_standard_claim(issue_tokens, register_plugin, decode):
    register_plugin(RolesRule(), name="roles")
    assert decode(issue_tokens()["id_token"]).claims["name"] == "Alice Example (Acme)"


def test_protected_claims_are_dropped_and_the_plugin_is_named(
    issue_tokens, register_plugin, decode, user, recorded_events
):
    register_plugin(RolesRule(), name="roles")
    tokens = issue_tokens()
    id_token = decode(tokens["id_token"]).claims
    access = decode(tokens["access_token"]).claims
    assert id_token["sub"] == access["sub"] == user.id
    assert "org_id" not in id_token
    assert access["grant_id"] != "forged"
    rejected = recorded_events("claim_rejected")
    assert {(e.data["plugin"], e.data["claim"]) for e in rejected} == {
        ("roles", "sub"),
        ("roles", "org_id"),
        ("roles", "grant_id"),
    }
    assert {e.data["target"] for e in rejected} == {"id_token", "access_token"}


def test_claims_that_are_not_json_are_dropped(
    issue_tokens, register_plugin, decode, recorded_events
):
    class Bad:
        @hookimpl
        def extra_token_claims(self, target):
            return {"when": object(), "ok": 1}

    register_plugin(Bad(), name="bad")
    claims = decode(issue_tokens()["id_token"]).claims
    assert claims["ok"] == 1
    assert "when" not in claims
    assert {e.data["reason"] for e in recorded_events("claim_rejected")} == {"not_json"}


def test_failing_claims_rule_fails_the_token_request(
    client, oidc_client, signed_in, register_plugin, recorded_events
):
    from app.testing import authorize
    from app.testing import exchange_code

    class Broken:
        @hookimpl
        def extra_token_claims(self, target):
            raise RuntimeError("directory down")

    register_plugin(Broken(), name="broken")
    model, secret = oidc_client
    response = exchange_code(client, model, authorize(client, model), secret)
    assert response.status_code == 500
    assert response.get_json()["error"] == "server_error"
    assert [e.data["plugin"] for e in recorded_events("plugin_failed")] == ["broken"]


def test_scoped_claims_rule_runs_only_where_enabled(
    client, oidc_client, user, make_organization, register_plugin, enable_plugin, decode
):
    from app.testing import authorize
    from app.testing import exchange_code
    from app.testing import sign_in

    class Tier:
        FOYER_SCOPED = True

        @hookimpl
        def extra_token_claims(self, organization):
            return {"tier": "gold"} if organization is not None else None

    register_plugin(Tier(), name="tier")
    model, secret = oidc_client
    sign_in(client, user)
    claims = decode(
        exchange_code(client, model, authorize(client, model), secret).get_json()["id_token"]
    ).claims
    assert "tier" not in claims

    org = make_organization("globex")
    enable_plugin("tier", organization=org)
    sign_in(client, user, organization=org)
    claims = decode(
        exchange_code(client, model, authorize(client, model), secret).get_json()["id_token"]
    ).claims
    assert claims["tier"] == "gold"
    assert claims["org_name"] == "globex"


def test_hookspec_documents_exactly_the_protected_claims():
    import re

    from app import hookspecs
    from app.oidc.claims import PROTECTED_CLAIMS

    doc = hookspecs.extra_token_claims.__doc__
    listed = re.search(r"Protected claims \((.*?)\) are never", doc, re.S).group(1)
    assert set(re.findall(r"``(\w+)``", listed)) == PROTECTED_CLAIMS
