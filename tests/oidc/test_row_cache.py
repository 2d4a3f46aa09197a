"""The per-process row cache: tenant domains and clients are read once per ``cache_seconds``,
changes made here apply at once, changes made elsewhere within the trust window."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.clients.models import Client
from app.db import get_database
from app.db import session
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
    """The cache's clock, moved by hand (a test that counts what is read again must not
    depend on how long a loaded machine takes between two requests: 5 s is a copy's
    trust window)."""
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


def test_a_token_request_reads_the_domain_and_client_once(
    client, machine_client, statements, clock
):
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


@pytest.fixture
def vanity_page(foyer_app, tenant, make_organization, oidc_client):
    """A browser on Globex's vanity host, and the URL of its login page."""
    from app.testing import host_client

    org = make_organization("globex", "Globex")
    tenant.domains.append(TenantDomain(hostname="globex.login.test", organization_id=org.id))
    session.commit()
    browser = host_client(foyer_app, "globex.login.test")
    model, _secret = oidc_client
    started = browser.get(
        "/authorize",
        query_string={
            "response_type": "code",
            "client_id": model.client_id,
            "redirect_uri": model.redirect_uris[0],
            "scope": "openid",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )
    assert started.status_code == 302, started.status_code
    return org, browser, started.headers["Location"]


def test_a_vanity_login_page_reads_its_organization_once(vanity_page, statements, clock):
    org, browser, page = vanity_page
    assert browser.get(page).status_code == 200
    session.close()  # as a new request starts: nothing loaded yet (the test shares its session)
    statements.clear()
    shown = browser.get(page)
    assert shown.status_code == 200 and b"Globex" in shown.data
    assert not any(
        "FROM organization" in s or "FROM connection" in s or "FROM tenant_domain" in s
        for s in statements
    ), statements


def test_a_vanity_login_page_merges_its_organization_once(vanity_page, monkeypatch, clock):
    """The host's domain brings its organization into the request; the sign-in's own look-up
    of that organization gets the same object, not a second copy merged over it."""
    from sqlalchemy.orm import Session

    org, browser, page = vanity_page
    assert browser.get(page).status_code == 200
    session.close()
    merged: list[str] = []
    real_merge = Session.merge

    def counting(self, instance, **kwargs):
        merged.append(type(instance).__name__)
        return real_merge(self, instance, **kwargs)

    monkeypatch.setattr(Session, "merge", counting)
    assert b"Globex" in browser.get(page).data
    assert merged.count("TenantDomain") == 1
    assert "Organization" not in merged, merged


def test_a_copy_merged_before_the_cache_was_cleared_is_merged_again(vanity_page):
    """A change committed in this process clears the cache: a session that merged the old
    copy (a long-lived one, as this test's) gets the new one on its next look-up."""
    org, browser, page = vanity_page
    assert b"Globex" in browser.get(page).data
    another_process_runs(
        sa.update(type(org)).where(type(org).id == org.id).values(display_name="Globex Inc")
    )
    row_cache().clear()  # what this process's own commit of such a change does
    assert b"Globex Inc" in browser.get(page).data


def test_a_change_to_the_vanity_organization_applies_at_once(vanity_page):
    org, browser, page = vanity_page
    assert b"Globex" in browser.get(page).data
    org.display_name = "Globex Corporation"
    session.commit()
    assert b"Globex Corporation" in browser.get(page).data


# --- facts the hosted sign-in derives from these rows -----------------------------------


@pytest.fixture
def identifier_page(foyer_app, client, tenant, connection, make_login_tx):
    """The tenant's identifier page (no organization) for a new login transaction; its
    sign-up link needs the first connection open to sign-up."""
    connection.signup_enabled = True
    session.commit()
    tx = make_login_tx()
    return lambda: client.get(f"/login?tx={tx}")


def test_the_identifier_page_reads_its_connection_and_organizations_once(
    identifier_page, make_organization, statements, clock
):
    make_organization("globex", "Globex", connections=[])  # the picker is offered
    assert b'id="signup-link"' in identifier_page().data
    session.close()  # as a new request starts: nothing loaded yet (the test shares its session)
    statements.clear()
    shown = identifier_page()
    assert shown.status_code == 200 and b'id="signup-link"' in shown.data
    assert not any("FROM connection" in s or "FROM organization" in s for s in statements), (
        statements
    )


def test_sign_up_closed_in_this_process_hides_the_link_at_once(identifier_page, connection):
    assert b'id="signup-link"' in identifier_page().data
    connection.signup_enabled = False
    session.commit()
    assert b'id="signup-link"' not in identifier_page().data


def test_a_connection_dedicated_by_another_process_leaves_the_page_within_the_window(
    identifier_page, connection, tenant, clock
):
    """Linked to one organization only, a connection serves that organization's isolated
    users: the tenant's own page stops offering sign-up to it."""
    from app.connections.models import OrganizationConnection
    from app.orgs.models import Organization

    assert b'id="signup-link"' in identifier_page().data
    another_process_runs(
        sa.insert(Organization).values(
            id="o1", tenant_id=tenant.id, name="initech", display_name="Initech"
        )
    )
    another_process_runs(
        sa.insert(OrganizationConnection).values(organization_id="o1", connection_id=connection.id)
    )
    session.expunge_all()
    clock[0] += 1
    assert b'id="signup-link"' in identifier_page().data  # still trusted
    clock[0] += 5
    assert b'id="signup-link"' not in identifier_page().data


def test_a_value_read_while_this_process_changed_the_rows_is_not_kept(foyer_app):
    cache = row_cache()
    cache.value("answer", lambda _s: "before")
    assert cache.value("answer", lambda _s: "again") == "before"

    def racing(_s):
        cache.clear()  # a commit of this process lands while the value is read
        return "old"

    assert cache.value("other", racing) == "old"
    assert cache.value("other", lambda _s: "new") == "new"


def test_a_value_is_read_in_the_request_session_while_it_holds_uncommitted_changes(
    foyer_app, connection
):
    cache = row_cache()
    cache.value("signup", lambda s: s.get(type(connection), connection.id).signup_enabled)
    connection.signup_enabled = not connection.signup_enabled
    seen = cache.value("signup", lambda s: s.get(type(connection), connection.id).signup_enabled)
    assert seen == connection.signup_enabled
    session.rollback()
