"""Connections written through the management API: checked as ``foyer apply`` checks a
configuration file, secrets stored encrypted and never shown, a bound client limited to
its own organization's connections."""

from __future__ import annotations

import sqlalchemy as sa

from app.configfile.apply import apply_text
from app.configfile.problems import ConfigInvalid
from app.connections.models import Connection
from app.db import session
from tests.api.world import api_token

MERGE = "application/merge-patch+json"
UPSTREAM = {
    "issuer": "https://idp.globex.example",
    "client_id": "foyer",
}


def headers(client, tenant, **kwargs) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(client, tenant, **kwargs)}"}


def stored(name: str) -> Connection:
    session.expire_all()
    found = session.scalar(sa.select(Connection).where(Connection.name == name))
    session.rollback()
    assert found is not None
    return found


def test_an_upstream_connection_is_created_with_its_secret_encrypted_and_never_shown(
    client, tenant
):
    auth = headers(client, tenant)
    answer = client.post(
        "/api/v1/connections",
        json={
            "name": "globex-sso",
            "strategy": "oidc",
            "options": UPSTREAM,
            "secrets": {"client_secret": "upstream-secret-value"},
        },
        headers=auth,
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["secrets"] == ["client_secret"]
    assert "upstream-secret-value" not in answer.get_data(as_text=True)
    row = stored("globex-sso")
    assert "upstream-secret-value" not in (row.secrets_encrypted or "")
    assert row.get_secrets() == {"client_secret": "upstream-secret-value"}
    read = client.get("/api/v1/connections/globex-sso", headers=auth)
    assert "upstream-secret-value" not in read.get_data(as_text=True)

    # a merge patch: the secret replaced, another option added, the ETag honoured
    changed = client.patch(
        "/api/v1/connections/globex-sso",
        json={"secrets": {"client_secret": "rotated"}, "options": {"scope": "openid email"}},
        headers={**auth, "Content-Type": MERGE, "If-Match": read.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["options"]["issuer"] == UPSTREAM["issuer"]
    assert stored("globex-sso").get_secrets() == {"client_secret": "rotated"}
    stale = client.patch(
        "/api/v1/connections/globex-sso",
        json={"display_name": "Globex"},
        headers={**auth, "Content-Type": MERGE, "If-Match": read.headers["ETag"]},
    )
    assert stale.status_code == 412


def test_the_api_refuses_what_foyer_apply_refuses(client, tenant):
    """The same settings, through a configuration file and through the API: the same
    problems."""
    settings = {"name": "broken-sso", "strategy": "oidc", "options": {"issuer": "http://x"}}
    file_problems = set()
    try:
        apply_text(
            f"version: 1\ntenant: {{name: {tenant.name}}}\nconnections:\n  - name: broken-sso\n"
            "    strategy: oidc\n    options: {issuer: 'http://x'}\n",
            dry_run=True,
        )
    except ConfigInvalid as exc:
        file_problems = {p.message for p in exc.problems if p.path.startswith("connections[0]")}
    session.rollback()
    assert file_problems
    answer = client.post("/api/v1/connections", json=settings, headers=headers(client, tenant))
    assert answer.status_code == 422, answer.get_json()
    body = answer.get_json()
    assert body["code"] == "invalid_connection"
    assert {e["message"] for e in body["errors"]} == file_problems
    assert {e["field"] for e in body["errors"]} == {"options.issuer", "options.client_id"}
    unknown = client.post(
        "/api/v1/connections",
        json={"name": "nope", "strategy": "carrier-pigeon"},
        headers=headers(client, tenant),
    )
    assert unknown.status_code == 422
    assert unknown.get_json()["field"] == "strategy"
    # the strategy stays as it is; a secret the strategy needs cannot be removed
    client.post(
        "/api/v1/connections",
        json={
            "name": "ok-sso",
            "strategy": "oidc",
            "options": UPSTREAM,
            "secrets": {"client_secret": "x"},
        },
        headers=headers(client, tenant),
    )
    removed = client.patch(
        "/api/v1/connections/ok-sso",
        json={"secrets": {"client_secret": None}},
        headers={**headers(client, tenant), "Content-Type": MERGE},
    )
    assert removed.status_code == 422
    assert removed.get_json()["field"] == "secrets.client_secret"
    assert stored("ok-sso").get_secrets() == {"client_secret": "x"}


def test_a_bound_client_changes_only_its_own_organizations_connections(
    client, tenant, make_organization
):
    globex = make_organization("globex")
    bound = headers(client, tenant, organization=globex)
    made = client.post("/api/v1/connections", json={"name": "globex-db"}, headers=bound)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["organizations"] == ["globex"]
    # "users" is a shared pool (Globex and Initech enable it): seen, never changed
    make_organization("initech")
    shared = client.delete("/api/v1/connections/users", headers=bound)
    assert shared.status_code == 409
    assert shared.get_json()["code"] == "connection_shared"
    unseen = client.patch(
        "/api/v1/connections/initech-only",
        json={"signup": True},
        headers={**bound, "Content-Type": MERGE},
    )
    assert unseen.status_code == 404
    gone = client.delete("/api/v1/connections/globex-db", headers=bound)
    assert gone.status_code == 204
    assert session.scalar(sa.select(Connection).where(Connection.name == "globex-db")) is None
