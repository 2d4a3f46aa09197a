"""What ``foyer run`` checks before it starts serving, and ``foyer demo`` warns about.

Settings that cannot work (a weak secret key, encryption keys that do not parse) already
stop :meth:`app.config.Settings.load`. These checks need the outside world: the database
answers (with the newest schema), Redis answers when configured, and every tenant domain
is https when cookies are Secure (production), as browsers drop Secure cookies on plain
http. Plain http stays allowed for loopback hosts (``localhost``, ``127.0.0.1``).
"""

from __future__ import annotations

import dataclasses
import typing as t

import sqlalchemy as sa

from app.config import Settings
from app.db import Database
from app.db import database_problem
from app.migrate import schema_state
from app.security.counters import redis_client
from app.tenancy.models import TenantDomain

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


@dataclasses.dataclass(frozen=True)
class Finding:
    level: t.Literal["error", "warning"]
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


def startup_findings(settings: Settings) -> list[Finding]:
    """Everything wrong with the deployment ``settings`` describe, errors first."""
    findings = _database_findings(settings) + _redis_findings(settings)
    return sorted(findings, key=lambda f: f.level != "error")


def _database_findings(settings: Settings) -> list[Finding]:
    database = Database(settings.database_url, settings.sqlite_cache_mib)
    where = sa.make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        with database.engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            revision = (
                connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
                if "alembic_version" in tables
                else None
            )
            domains = (
                connection.execute(
                    sa.select(TenantDomain.scheme, TenantDomain.hostname, TenantDomain.port)
                ).all()
                if "tenant_domain" in tables
                else []
            )
    except sa.exc.SQLAlchemyError as exc:
        return [
            Finding("error", f"the database at {where} cannot be reached: {database_problem(exc)}")
        ]
    finally:
        database.dispose()
    findings = []
    behind = schema_state(database, revision) == "not current"
    if behind and not settings.database_url.startswith("sqlite"):
        findings.append(
            Finding(
                "warning",
                f"the database schema is {'empty' if revision is None else 'not current'}: "
                "run `foyer db upgrade` (until then /health/ready answers 503)",
            )
        )
    if settings.secure_cookies:
        for scheme, hostname, port in domains:
            if scheme != "https" and hostname not in LOOPBACK_HOSTS:
                shown = f"{scheme}://{hostname}{f':{port}' if port else ''}"
                findings.append(
                    Finding(
                        "error",
                        f"the domain {shown} is served over plain http: browsers drop "
                        "Foyer's Secure cookies there; configure it as https (plain http "
                        "only for localhost)",
                    )
                )
    return findings


def _redis_findings(settings: Settings) -> list[Finding]:
    if not settings.redis_url:
        return []
    try:
        redis_client(settings.redis_url).ping()
    except Exception as exc:  # noqa: BLE001 - any failure: not reachable
        where = settings.redis_url.split("@")[-1]  # never the password
        return [Finding("error", f"Redis at {where} cannot be reached: {type(exc).__name__}")]
    return []
