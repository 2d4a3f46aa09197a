"""The per-process row cache: tenant domains and clients are read once per ``cache_seconds``,
changes made here apply at once, changes made elsewhere within the trust window."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import get_database
from app.db import session
from app.oidc.models import Client
from app.rowcache import row_cache
from app.tenancy.models import TenantDomain
from app.testing import token_request


@pytest.fixture
def statements(foyer_app):
    """The SQL the app runs, in order (every session, the cache's own included)."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    engine = get_database().engine
    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def clock(monkeypatch):
    """The cache's clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr("app.rowcache.time.monotonic", lambda: now[0])
    return now


def machine_token(client, machine_client):
    model, secret = machine_client
    return token_request(client, model, secret, grant_type="client_credentials")


def another_process_runs(statement: sa.Executable) -> None:
    """Write the way another worker would: a connection of its own, no ORM session."""
    with get_database().engine.begin() as connection:
        connection.execute(statement)


def test_a_token_request_reads_the_domain_and_client_once(client, machine_client, statements):
    assert machine_token(client, machine_client).status_code == 200
    first = len(statements)
    assert any("FROM tenant_domain" in s for s in statements)
    assert any("FROM client" in s for s in statements)
    statements.clear()
    assert machine_token(client, machine_client).status_code == 200
    assert not any("FROM tenant_domain" in s or "FROM client" in s for s in statements)
    assert len(statements) < first


def test_another_processes_change_applies_when_the_copy_expires(client, machine_client, clock):
    model, _secret = machine_client
    assert machine_token(client, machine_client).status_code == 200
    another_process_runs(sa.update(Client).where(Client.id == model.id).values(grant_types=[]))
    clock[0] += 1
    assert machine_token(client, machine_client).status_code == 200  # still trusted
    clock[0] += 5
    refused = machine_token(client, machine_client)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "unauthorized_client"


def test_a_change_made_in_this_process_applies_at_once(client, machine_client):
    model, _secret = machine_client
    assert machine_token(client, machine_client).status_code == 200
    model.grant_types = []
    session.commit()
    assert machine_token(client, machine_client).status_code == 400


def test_a_bulk_statement_of_this_process_clears_the_cache(client, machine_client, tenant):
    assert machine_token(client, machine_client).status_code == 200
    session.execute(sa.delete(TenantDomain).where(TenantDomain.tenant_id == tenant.id))
    session.commit()
    assert client.get("/.well-known/openid-configuration").status_code == 404


def test_unknown_hosts_are_not_cached(foyer_app, client, statements):
    from app.testing import host_client

    stranger = host_client(foyer_app, "nobody.test")
    for _ in range(2):
        assert stranger.get("/.well-known/openid-configuration").status_code == 404
    assert sum("FROM tenant_domain" in s for s in statements) == 2
    assert not row_cache()._rows


def test_cache_seconds_zero_reads_every_time(client, machine_client, statements):
    row_cache().ttl = 0  # what FOYER_CACHE_SECONDS=0 sets
    for _ in range(2):
        assert machine_token(client, machine_client).status_code == 200
    assert sum("FROM client" in s for s in statements) == 2
