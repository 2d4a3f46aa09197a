"""Every management API endpoint x (no token, wrong scope, other tenant, other
organization, right scope). A client bound to organization A gets 404 on everything of
organization B, and 403 on tenant-wide endpoints; the matrix must name every endpoint."""

from __future__ import annotations

import dataclasses
import typing as t

import pytest

from app.api.policy import SCOPES
from tests.api.world import World
from tests.api.world import api_token
from tests.api.world import build_world

MERGE = "application/merge-patch+json"


@dataclasses.dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    """With ``{org}``, ``{user}``, ``{session}``, ``{grant}``, ``{invitation}``,
    ``{scim_token}``, ``{client}``, ``{connection}`` filled from one side of the world."""
    scope: str
    kind: str
    """``org``: acts on one organization's things (bound to A, B's answer 404);
    ``tenant``: tenant-wide (bound clients get 403); ``list``: a search whose answer must
    hold nothing of B for a client bound to A."""
    success: int
    body: dict[str, t.Any] | None = None
    content_type: str = "application/json"

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("GET", "/api/v1/users", "read:users", "list", 200),
    Endpoint(
        "POST",
        "/api/v1/users",
        "create:users",
        "org",
        201,
        {"email": "new@x.test", "organization": "{org}", "send_invite": False},
    ),
    Endpoint("GET", "/api/v1/users/{user}", "read:users", "org", 200),
    Endpoint(
        "PATCH",
        "/api/v1/users/{user}",
        "update:users",
        "org",
        200,
        {"name": "Changed", "user_metadata": {"plan": "gold"}},
        MERGE,
    ),
    Endpoint("DELETE", "/api/v1/users/{user}", "delete:users", "org", 204),
    Endpoint("POST", "/api/v1/users/{user}/block", "update:users", "org", 200),
    Endpoint("POST", "/api/v1/users/{user}/unblock", "update:users", "org", 200),
    Endpoint("POST", "/api/v1/users/{user}/password-reset", "update:users", "org", 202),
    Endpoint("POST", "/api/v1/users/{user}/verification-email", "update:users", "org", 202),
    Endpoint("GET", "/api/v1/users/{user}/sessions", "read:users", "org", 200),
    Endpoint("DELETE", "/api/v1/users/{user}/sessions", "update:users", "org", 200),
    Endpoint("DELETE", "/api/v1/users/{user}/sessions/{session}", "update:users", "org", 204),
    Endpoint("GET", "/api/v1/users/{user}/refresh-tokens", "read:users", "org", 200),
    Endpoint("DELETE", "/api/v1/users/{user}/refresh-tokens", "update:users", "org", 200),
    Endpoint("DELETE", "/api/v1/users/{user}/refresh-tokens/{grant}", "update:users", "org", 204),
    Endpoint("GET", "/api/v1/users/{user}/identities", "read:users", "org", 200),
    Endpoint("GET", "/api/v1/users/{user}/memberships", "read:users", "org", 200),
    Endpoint("GET", "/api/v1/organizations", "read:organizations", "list", 200),
    Endpoint(
        "POST",
        "/api/v1/organizations",
        "create:organizations",
        "tenant",
        201,
        {"name": "org-new", "display_name": "New"},
    ),
    Endpoint("GET", "/api/v1/organizations/{org}", "read:organizations", "org", 200),
    Endpoint(
        "PATCH",
        "/api/v1/organizations/{org}",
        "update:organizations",
        "org",
        200,
        {"display_name": "Renamed", "metadata": {"tier": "gold"}},
        MERGE,
    ),
    Endpoint("DELETE", "/api/v1/organizations/{org}", "delete:organizations", "tenant", 204),
    Endpoint("GET", "/api/v1/organizations/{org}/members", "read:organization_members", "org", 200),
    Endpoint(
        "PUT",
        "/api/v1/organizations/{org}/members/{user}",
        "create:organization_members",
        "org",
        200,
        {"roles": ["viewer"]},
    ),
    Endpoint(
        "DELETE",
        "/api/v1/organizations/{org}/members/{user}",
        "delete:organization_members",
        "org",
        204,
    ),
    Endpoint(
        "GET",
        "/api/v1/organizations/{org}/invitations",
        "read:organization_invitations",
        "org",
        200,
    ),
    Endpoint(
        "POST",
        "/api/v1/organizations/{org}/invitations",
        "create:organization_invitations",
        "org",
        201,
        {"email": "guest@x.test", "send_email": False},
    ),
    Endpoint(
        "DELETE",
        "/api/v1/organizations/{org}/invitations/{invitation}",
        "delete:organization_invitations",
        "org",
        204,
    ),
    Endpoint("GET", "/api/v1/organizations/{org}/connections", "read:organizations", "org", 200),
    Endpoint(
        "PUT",
        "/api/v1/organizations/{org}/connections",
        "update:organizations",
        "org",
        200,
        {"connections": ["users"]},
    ),
    Endpoint("GET", "/api/v1/organizations/{org}/email-domains", "read:organizations", "org", 200),
    Endpoint(
        "PUT",
        "/api/v1/organizations/{org}/email-domains",
        "update:organizations",
        "org",
        200,
        {"email_domains": [{"domain": "{org}.example"}]},
    ),
    Endpoint("GET", "/api/v1/organizations/{org}/branding", "read:organizations", "org", 200),
    Endpoint(
        "PUT",
        "/api/v1/organizations/{org}/branding",
        "update:organizations",
        "org",
        200,
        {"support_email": "help@x.test", "colors": {"primary": "#112233"}},
    ),
    Endpoint("GET", "/api/v1/organizations/{org}/scim-tokens", "read:scim_tokens", "org", 200),
    Endpoint(
        "POST",
        "/api/v1/organizations/{org}/scim-tokens",
        "create:scim_tokens",
        "org",
        201,
        {"name": "okta"},
    ),
    Endpoint(
        "DELETE",
        "/api/v1/organizations/{org}/scim-tokens/{scim_token}",
        "delete:scim_tokens",
        "org",
        204,
    ),
    Endpoint("GET", "/api/v1/connections", "read:connections", "list", 200),
    Endpoint("GET", "/api/v1/connections/{connection}", "read:connections", "org", 200),
    Endpoint(
        "POST",
        "/api/v1/connections",
        "create:connections",
        "org",
        201,
        {"name": "{org}-more", "organization": "{org}", "secrets": {"pepper": "s3cret"}},
    ),
    Endpoint(
        "PATCH",
        "/api/v1/connections/{connection}",
        "update:connections",
        "org",
        200,
        {"display_name": "Renamed", "options": {"note": "x"}},
        MERGE,
    ),
    Endpoint("DELETE", "/api/v1/connections/{connection}", "delete:connections", "org", 204),
    Endpoint("GET", "/api/v1/clients", "read:clients", "tenant", 200),
    Endpoint(
        "POST",
        "/api/v1/clients",
        "create:clients",
        "tenant",
        201,
        {"name": "New app", "grant_types": ["client_credentials"], "scope": "read:users"},
    ),
    Endpoint("GET", "/api/v1/clients/{client}", "read:clients", "tenant", 200),
    Endpoint("POST", "/api/v1/clients/{client}/rotate-secret", "update:clients", "tenant", 200),
    Endpoint("DELETE", "/api/v1/clients/{client}", "delete:clients", "tenant", 204),
    Endpoint("GET", "/api/v1/signing-keys", "read:signing_keys", "tenant", 200),
    Endpoint(
        "POST", "/api/v1/signing-keys/rotate?force=true", "create:signing_keys", "tenant", 200
    ),
    Endpoint("GET", "/api/v1/events", "read:events", "list", 200),
    Endpoint(
        "POST",
        "/api/v1/users/imports",
        "create:users",
        "tenant",
        202,
        {"connection": "users", "users": [{"email": "imported@x.test"}]},
    ),
    Endpoint("GET", "/api/v1/users/imports/{job}", "read:users", "tenant", 200),
]


def fill(value: t.Any, world: World, side: t.Any) -> t.Any:
    if isinstance(value, dict):
        return {k: fill(v, world, side) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, world, side) for v in value]
    if not isinstance(value, str):
        return value
    return (
        value.replace("{org}", side.org.name)
        .replace("{user}", side.user.id)
        .replace("{session}", side.session.id)
        .replace("{grant}", side.grant.id)
        .replace("{invitation}", side.invitation.id)
        .replace("{scim_token}", side.scim_token.id)
        .replace("{client}", world.app_client.client_id)
        .replace("{connection}", side.connection.name)
        .replace("{job}", world.import_job.id)
    )


def call(browser, endpoint: Endpoint, world: World, side: t.Any, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kwargs: dict[str, t.Any] = {"headers": headers}
    if endpoint.body is not None:
        kwargs["json"] = fill(endpoint.body, world, side)
        kwargs["content_type"] = endpoint.content_type
    return browser.open(fill(endpoint.path, world, side), method=endpoint.method, **kwargs)


@pytest.fixture
def world(foyer_app, tenant, make_organization, make_user) -> World:
    return build_world(foyer_app, tenant, make_organization, make_user)


def another_scope(scope: str) -> str:
    return "read:events" if scope != "read:events" else "read:users"


def test_the_matrix_names_every_endpoint_and_every_view_declares_its_scope(foyer_app):
    served = set()
    for rule in foyer_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api_"):
            continue
        view = foyer_app.view_functions[rule.endpoint]
        assert getattr(view, "_api_scope", None) in SCOPES, rule.rule
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            path = rule.rule.replace("<", "{").replace(">", "}")
            served.add((method, path))
    listed = set()
    for endpoint in ENDPOINTS:
        path = endpoint.path.split("?")[0]
        for name, placeholder in (
            ("user", "user_id"),
            ("session", "session_id"),
            ("grant", "grant_id"),
            ("invitation", "invitation_id"),
            ("scim_token", "token_id"),
            ("org", "organization"),
            ("client", "client_id"),
            ("connection", "name"),
            ("job", "job_id"),
        ):
            path = path.replace("{" + name + "}", "{" + placeholder + "}")
        listed.add((endpoint.method, path))
    assert served == listed


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_authorization(client, foyer_app, world, endpoint):
    a, b = world.a, world.b
    # no token
    response = call(client, endpoint, world, a, None)
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["code"] == "unauthorized"
    assert "Bearer" in response.headers["WWW-Authenticate"]
    # a token without the endpoint's scope
    wrong = api_token(client, world.tenant, another_scope(endpoint.scope))
    response = call(client, endpoint, world, a, wrong)
    assert response.status_code == 403, response.get_json()
    assert response.get_json()["code"] == "insufficient_scope"
    # a token of another tenant, with every scope
    response = call(client, endpoint, world, a, world.other_tenant_token)
    assert response.status_code == 401, response.get_json()
    # a client bound to organization A, with every scope, on B's things
    bound_a = api_token(client, world.tenant, organization=a.org)
    response = call(client, endpoint, world, b, bound_a)
    if endpoint.kind == "org":
        assert response.status_code == 404, response.get_json()
        assert response.get_json()["code"] == "not_found"
    elif endpoint.kind == "tenant":
        assert response.status_code == 403, response.get_json()
        assert response.get_json()["code"] == "organization_bound"
    else:
        assert response.status_code == 200, response.get_json()
        text = response.get_data(as_text=True)
        for secret_of_b in (b.user.id, b.org.id, b.user.email):
            assert secret_of_b not in text
    # the right scope: A's client on A's things; tenant-wide ones with an unbound client
    token = (
        api_token(client, world.tenant, endpoint.scope)
        if endpoint.kind == "tenant"
        else api_token(client, world.tenant, endpoint.scope, organization=a.org)
    )
    response = call(client, endpoint, world, a, token)
    assert response.status_code == endpoint.success, response.get_json()
    assert response.headers["Content-Type"].startswith("application/json") or (
        response.status_code == 204
    )
    assert "RateLimit-Remaining" in response.headers
