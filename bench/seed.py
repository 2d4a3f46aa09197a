"""Seeding the throwaway instance: ``foyer apply bench/bench.yaml``, then bulk rows for HRD.

The tenant the scenarios use comes from the config-as-code file, applied by the real
``foyer apply`` command. The home realm discovery tenant needs up to 100,000 organizations;
those rows are inserted in batches straight into the tables, since the bench measures the
lookup, not the seeding. Organization ``org-<n>`` has its own database connection (the
isolated-users layout), the email domain ``org-<n>.example`` routed to it, an exact entry
``partner-<n>@partners.example`` in the identifier map and, for one organization in a
hundred, the pattern ``*@team-<n>.example``.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher

from app.config import Settings
from app.connections.models import Connection
from app.connections.models import OrganizationConnection
from app.db import TZDateTime
from app.db import new_id
from app.hrd.models import IdentifierRoute
from app.orgs.models import Organization
from app.orgs.models import OrgDomain
from app.tenancy.models import Tenant

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PASSWORD = "bench password that is long enough"
USERS = ("ada@bench.example", "alan@bench.example", "grace@bench.example", "linus@bench.example")
HRD_HOST = "hrd.localhost"


def password_hash() -> str:
    """An argon2id hash at Foyer's default parameters (OWASP: m=19 MiB, t=2, p=1)."""
    s = Settings()
    ph = PasswordHasher(
        time_cost=s.argon2_time_cost,
        memory_cost=s.argon2_memory_cost,
        parallelism=s.argon2_parallelism,
    )
    return ph.hash(PASSWORD)


def foyer(env: t.Mapping[str, str], *args: str, stdin: str | None = None) -> str:
    """Run a ``foyer`` command in the bench instance; returns its standard output."""
    done = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        env=dict(env),
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"foyer {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def apply_bench_tenant(env: dict[str, str], port: int) -> dict[str, str]:
    """``foyer apply bench/bench.yaml``; returns the variables it was given."""
    variables = {
        "BENCH_PORT": str(port),
        "BENCH_CLIENT_SECRET": secrets.token_urlsafe(32),
        "BENCH_PASSWORD_HASH": password_hash(),
    }
    foyer(env, "db", "upgrade")  # as an operator does first (only SQLite upgrades itself)
    foyer({**env, **variables}, "apply", str(BENCH_DIR / "bench.yaml"))
    hrd_file = (
        "version: 1\n"
        "tenant:\n"
        "  name: hrd\n"
        "  display_name: HRD Corp\n"
        f"  domains: ['https://{HRD_HOST}:{port}']\n"
        "connections:\n"
        "  - {name: fallback, strategy: database}\n"
    )
    foyer(env, "apply", "-", stdin=hrd_file)
    return variables


def add_organizations(env: t.Mapping[str, str], total: int) -> float:
    """Grow the HRD tenant to ``total`` organizations; returns the seconds it took."""
    started = time.perf_counter()
    code = f"from bench.seed import _insert_organizations; _insert_organizations({total})"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"seeding organizations failed:\n{done.stderr}")
    return time.perf_counter() - started


PATTERN_EVERY = 100
"""One organization in this many has a pattern entry in the identifier map."""
SHARED_EVERY = 10
"""Two organizations in this many enable the shared pool, when there is one (so it is
shared at every size, never dedicated to one organization)."""
WORDS = (
    "north",
    "river",
    "stone",
    "maple",
    "harbor",
    "cedar",
    "summit",
    "pioneer",
    "atlas",
    "beacon",
    "falcon",
    "granite",
    "meadow",
    "orbit",
    "quartz",
    "silver",
    "timber",
    "vector",
)


def organization_display_name(index: int) -> str:
    """A name a picker search can find: two words of a short list and the number."""
    first, second = WORDS[index % len(WORDS)], WORDS[(index // len(WORDS)) % len(WORDS)]
    return f"{first.title()} {second.title()} {index}"


def hrd_domain(index: int) -> str:
    return f"org-{index}.example"


def hrd_identifier(kind: str, index: int) -> str:
    """An identifier HRD routes to organization ``index`` by ``kind``: its email domain, its
    exact entry in the identifier map, or its pattern entry."""
    if kind == "email_domain":
        return f"someone@{hrd_domain(index)}"
    if kind == "identifier_map":
        return f"partner-{index}@partners.example"
    return f"someone@team-{index - index % PATTERN_EVERY}.example"


def write_rows(session: t.Any, table: sa.Table, rows: list[dict[str, t.Any]]) -> None:
    """Insert ``rows`` (dicts keyed by column name) into ``table`` in the session's
    transaction: PostgreSQL's ``COPY`` (a million rows in seconds), else one multi-row
    ``INSERT`` per batch."""
    if not rows:
        return
    if session.bind.dialect.name != "postgresql":
        session.execute(sa.insert(table), rows)
        return
    columns = list(rows[0])
    jsons = {c for c in columns if isinstance(table.c[c].type, sa.JSON)}
    times = {c for c in columns if isinstance(table.c[c].type, TZDateTime)}
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[c])
                    if c in jsons
                    else row[c].astimezone(dt.UTC).replace(tzinfo=None)
                    if c in times and row[c] is not None
                    else row[c]
                    for c in columns
                ]
            )


def _insert_organizations(
    total: int, tenant_name: str = "hrd", shared_connection: str | None = None
) -> None:
    """Insert organizations ``org-<n>`` up to ``total`` (each with a connection and domain);
    two in ``SHARED_EVERY`` also enable ``shared_connection`` (a shared pool)."""
    from app import create_app  # the app is configured by the environment this runs in
    from app.db import session

    app = create_app()
    with app.app_context():
        tenant = session.scalar(sa.select(Tenant).where(Tenant.name == tenant_name))
        assert tenant is not None
        shared_id = None
        if shared_connection is not None:
            shared_id = session.scalar(
                sa.select(Connection.id).where(
                    Connection.tenant_id == tenant.id, Connection.name == shared_connection
                )
            )
        present = (
            session.scalar(
                sa.select(sa.func.count(Organization.id)).where(Organization.tenant_id == tenant.id)
            )
            or 0
        )
        now = dt.datetime.now(dt.UTC)
        batch = 20000
        for start in range(present, total, batch):
            orgs, connections, links, domains, routes = [], [], [], [], []
            for n in range(start, min(start + batch, total)):
                org_id, connection_id = new_id(), new_id()
                orgs.append(
                    {
                        "id": org_id,
                        "tenant_id": tenant.id,
                        "name": f"org-{n}",
                        "display_name": organization_display_name(n),
                        "branding": {},
                        "metadata": {},
                        "plugins": {},
                        "require_two_step": False,
                        "created_at": now,
                    }
                )
                connections.append(
                    {
                        "id": connection_id,
                        "tenant_id": tenant.id,
                        "name": f"org-{n}-users",
                        "display_name": f"Org {n}",
                        "strategy": "database",
                        "options": {},
                        "signup_enabled": False,
                        "created_at": now,
                    }
                )
                links.append(
                    {"organization_id": org_id, "connection_id": connection_id, "position": 0}
                )
                if shared_id is not None and n % SHARED_EVERY < 2:
                    links.append(
                        {"organization_id": org_id, "connection_id": shared_id, "position": 1}
                    )
                domains.append(
                    {
                        "id": new_id(),
                        "tenant_id": tenant.id,
                        "organization_id": org_id,
                        "domain": hrd_domain(n),
                        "include_subdomains": False,
                        "connection_id": connection_id,
                    }
                )
                routes.append(
                    {
                        "id": new_id(),
                        "tenant_id": tenant.id,
                        "identifier": hrd_identifier("identifier_map", n),
                        "is_pattern": False,
                        "organization_id": org_id,
                        "connection_id": connection_id,
                        "created_at": now,
                    }
                )
                if n % PATTERN_EVERY == 0:
                    routes.append(
                        {
                            "id": new_id(),
                            "tenant_id": tenant.id,
                            "identifier": f"*@team-{n}.example",
                            "is_pattern": True,
                            "organization_id": org_id,
                            "connection_id": connection_id,
                            "created_at": now,
                        }
                    )
            write_rows(session, Organization.__table__, orgs)
            write_rows(session, Connection.__table__, connections)
            write_rows(session, OrganizationConnection.__table__, links)
            write_rows(session, OrgDomain.__table__, domains)
            write_rows(session, IdentifierRoute.__table__, routes)
            session.commit()
        session.execute(sa.text("ANALYZE"))  # fresh planner statistics, as a DBA would
        session.commit()
