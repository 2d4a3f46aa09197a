"""The hosted pages, the picker and user lookups send the same SQL statements and load the
same number of rows at 10 and at 500 organizations (each with its own connection and email
domain): nothing a request does grows with the tenant's data. Statements are counted, not
timed (``bench.scale`` measures the time at a million users)."""

from __future__ import annotations

import contextlib
import typing as t

import pytest
from sqlalchemy import event

from app.accounts.cli import _users_by_email
from app.connections.services import create_connection
from app.connections.services import find_connection
from app.db import Base
from app.db import session
from app.orgs.services import create_organization
from app.testing import USER_PASSWORD
from app.testing import host_client
from tests.hrd.conftest import authorize
from tests.hrd.conftest import location
from tests.hrd.conftest import text
from tests.hrd.conftest import type_identifier
from tests.hrd.conftest import type_password

if t.TYPE_CHECKING:
    from flask import Flask

    from app.tenancy.models import Tenant


@contextlib.contextmanager
def counted(app: Flask) -> t.Iterator[list[str]]:
    """The SQL statements sent while the block runs, and a ``loaded <Model>`` line for each
    row loaded as an object (a statement that reads every connection is one statement)."""
    sent: list[str] = []
    engine = app.extensions["foyer.db"].engine

    def record(_conn: t.Any, _cursor: t.Any, statement: str, *_args: t.Any) -> None:
        sent.append(statement)

    def loaded(target: t.Any, _context: t.Any) -> None:
        sent.append(f"loaded {type(target).__name__}")

    event.listen(engine, "before_cursor_execute", record)
    event.listen(Base, "load", loaded, propagate=True)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
        event.remove(Base, "load", loaded)


def add_organizations(tenant: Tenant, first: int, last: int) -> None:
    """``org-<n>`` for n in [first, last): its own connection and email domain each."""
    for n in range(first, last):
        own = create_connection(tenant, f"org-{n}-users", "database")
        create_organization(
            tenant, f"org-{n}", f"Organization {n:04d}", [own], email_domains=[f"org-{n}.example"]
        )
    session.commit()


@pytest.fixture
def scaled(foyer_app, tenant, connection, make_user, make_client):
    """The tenant's ``users`` pool (open to sign-up, no organization) with a user, the
    picker in list mode, 10 organizations with an isolated user in ``org-3``."""
    connection.signup_enabled = True
    tenant.settings = {**(tenant.settings or {}), "hrd": {"organization_picker": "list"}}
    session.commit()
    make_user(email="pat@pool.example", email_verified=True)
    add_organizations(tenant, 0, 10)
    make_user(
        email="iso@org-3.example",
        email_verified=True,
        connection_=find_connection(tenant, "org-3-users"),
    )
    client, _secret = make_client("Portal")
    return client


def shapes(app: Flask, client: t.Any) -> dict[str, int]:
    """Statements of each step, measured on a second run (the first warms the caches)."""
    found: dict[str, int] = {}
    for run in range(2):
        browser = host_client(app)
        with counted(app) as sent:
            page, _request = authorize(browser, client)
        assert page.status_code == 200 and 'href="/signup' in text(page), text(page)[:300]
        with counted(app) as page_statements:
            again = browser.get(browser_path(page))
        assert again.status_code == 200
        with counted(app) as identifier:
            password_page = type_identifier(browser, again, "pat@pool.example")
        assert 'id="login-password-form"' in text(password_page), text(password_page)[:300]
        with counted(app) as signed_in:
            done = type_password(browser, password_page, USER_PASSWORD)
        assert done.status_code in (302, 303), text(done)[:300]

        other = host_client(app)
        page, _request = authorize(other, client)
        with counted(app) as by_domain:
            password_page = type_identifier(other, page, "iso@org-3.example")
        assert 'id="login-password-form"' in text(password_page), text(password_page)[:300]

        picker = host_client(app)
        page, _request = authorize(picker, client)
        tx = browser_path(page).split("tx=")[1].split("&")[0]
        with counted(app) as listed:
            shown = picker.get(f"/login/organization?tx={tx}&q=0003")
        assert shown.status_code == 200 and "Organization 0003" in text(shown)

        with counted(app) as cli:
            assert len(_users_by_email("acme", "pat@pool.example", None)) == 1
        if run:
            found = {
                "authorize": len(sent),
                "identifier page": len(page_statements),
                "identifier POST": len(identifier),
                "password POST": len(signed_in),
                "email domain": len(by_domain),
                "picker": len(listed),
                "CLI lookup": len(cli),
            }
    return found


def browser_path(page: t.Any) -> str:
    """The path of the page a followed response shows (its request's URL)."""
    return str(page.request.full_path if page.request else location(page))


def test_statements_do_not_grow_with_organizations(foyer_app, tenant, scaled):
    small = shapes(foyer_app, scaled)
    add_organizations(tenant, 10, 500)
    large = shapes(foyer_app, scaled)
    assert large == small
