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

import secrets
import subprocess
import sys
import typing as t
from pathlib import Path

from argon2 import PasswordHasher

from app.config import Settings

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
    import time

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


def _insert_organizations(total: int) -> None:
    """Insert organizations ``org-<n>`` up to ``total`` (each with a connection and domain)."""
    import datetime as dt

    import sqlalchemy as sa

    from app import create_app
    from app.connections.models import Connection
    from app.connections.models import OrganizationConnection
    from app.db import new_id
    from app.db import session
    from app.hrd.models import IdentifierRoute
    from app.orgs.models import Organization
    from app.orgs.models import OrgDomain
    from app.tenancy.services import find_tenant

    app = create_app()
    with app.app_context():
        tenant = find_tenant("hrd")
        assert tenant is not None
        present = (
            session.scalar(
                sa.select(sa.func.count(Organization.id)).where(Organization.tenant_id == tenant.id)
            )
            or 0
        )
        now = dt.datetime.now(dt.UTC)
        batch = 5000
        for start in range(present, total, batch):
            orgs, connections, links, domains, routes = [], [], [], [], []
            for n in range(start, min(start + batch, total)):
                org_id, connection_id = new_id(), new_id()
                orgs.append(
                    {
                        "id": org_id,
                        "tenant_id": tenant.id,
                        "name": f"org-{n}",
                        "display_name": f"Organization {n}",
                        "branding": {},
                        "metadata_": {},
                        "plugins": {},
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
            session.execute(sa.insert(Organization), orgs)
            session.execute(sa.insert(Connection), connections)
            session.execute(sa.insert(OrganizationConnection), links)
            session.execute(sa.insert(OrgDomain), domains)
            session.execute(sa.insert(IdentifierRoute), routes)
            session.commit()
        session.execute(sa.text("ANALYZE"))  # fresh planner statistics, as a DBA would
        session.commit()
