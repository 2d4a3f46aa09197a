"""Checks of what the database holds: tenant domains, signing keys, demo data, public
organization lists; and where rate limits are counted."""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
import yaml
from flask import Flask

from app.accounts.models import User
from app.config import Settings
from app.db import session
from app.db import utcnow
from app.demo.seed import DEMO_FILE
from app.doctor.findings import Finding
from app.oidc.models import SigningKey
from app.orgs.privacy import list_is_public
from app.preflight import LOOPBACK_HOSTS
from app.tenancy.models import Tenant
from app.tenancy.models import TenantDomain

KEY_MAX_AGE = dt.timedelta(days=90)
"""A current signing key older than this is due for rotation."""
RESERVED_SUFFIXES = (".localhost", ".test", ".example", ".invalid", ".local")
DEMO_TENANT = "demo"


def domain_findings(production: bool) -> list[Finding]:
    """Production tenants answer on custom domains of their own (https: a start-up check)."""
    if not production:
        return []
    findings = []
    rows = session.execute(sa.select(Tenant.name, TenantDomain).join(TenantDomain.tenant)).all()
    for tenant_name, domain in rows:
        shown = f"{domain.scheme}://{domain.hostname}{f':{domain.port}' if domain.port else ''}"
        if domain.hostname in LOOPBACK_HOSTS or domain.hostname.endswith(RESERVED_SUFFIXES):
            findings.append(
                Finding(
                    "warning",
                    "domains.not_custom",
                    f"tenant {tenant_name} answers on {shown}: a local or reserved name; "
                    "give it a domain of your own",
                    "checking-a-deployment-foyer-doctor",
                )
            )
    return findings


def key_findings(now: dt.datetime | None = None) -> list[Finding]:
    """Each tenant's current signing key is younger than :data:`KEY_MAX_AGE`."""
    now = now or utcnow()
    findings = []
    rows = session.execute(
        sa.select(Tenant.name, SigningKey)
        .join(SigningKey, SigningKey.tenant_id == Tenant.id)
        .where(SigningKey.state == "current")
    ).all()
    for tenant_name, key in rows:
        since = key.rotated_at or key.created_at
        age = now - since
        if age > KEY_MAX_AGE:
            findings.append(
                Finding(
                    "warning",
                    "keys.rotation_overdue",
                    f"tenant {tenant_name}'s {key.alg} signing key {key.kid} has signed for "
                    f"{age.days} days: rotate it (foyer keys rotate --tenant {tenant_name})",
                    "signing-keys",
                )
            )
    return findings


def demo_findings(production: bool) -> list[Finding]:
    """The demo tenant and the demo accounts (a published password) stay out of production."""
    if not production:
        return []
    findings = []
    if session.scalar(sa.select(Tenant.id).where(Tenant.name == DEMO_TENANT)):
        findings.append(
            Finding(
                "error",
                "demo.tenant",
                f"the demo tenant ({DEMO_TENANT!r}) exists: delete it in production",
                "checking-a-deployment-foyer-doctor",
            )
        )
    emails = sorted(demo_emails())
    found = session.scalars(
        sa.select(User.email_normalized).where(User.email_normalized.in_(emails))
    ).all()
    if found:
        findings.append(
            Finding(
                "error",
                "demo.accounts",
                f"{len(found)} demo account(s) exist ({', '.join(sorted(set(found))[:3])}): "
                "their password is published; delete them",
                "checking-a-deployment-foyer-doctor",
            )
        )
    return findings


def demo_emails() -> set[str]:
    """Every email address the demo file gives a user."""
    data = yaml.safe_load(DEMO_FILE.read_text())
    emails: set[str] = set()

    def walk(node: t.Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif key == "email" and isinstance(node, str):
            emails.add(node.lower())

    walk(data.get("users", []))
    return emails


def listing_findings() -> list[Finding]:
    """Tenants whose organization picker lists every organization to anyone."""
    return [
        Finding(
            "info",
            "orgs.public_list",
            f"tenant {tenant.name} lists its organizations to anyone "
            "(hrd.organization_picker: list): your customer list is public",
            "checking-a-deployment-foyer-doctor",
        )
        for tenant in session.scalars(sa.select(Tenant).order_by(Tenant.name))
        if list_is_public(tenant)
    ]


def storage_findings(settings: Settings, app: Flask, production: bool) -> list[Finding]:
    """Rate limits and attack-protection counters are shared by every worker and host."""
    findings = []
    limiter = app.extensions.get("foyer.limiter")
    storage = type(getattr(limiter, "_storage", None)).__name__
    if "Memory" in storage:
        findings.append(
            Finding(
                "error",
                "limits.memory",
                "rate limits are counted in each worker's memory: with several workers "
                "or hosts every one allows the full budget; use Redis or the database",
                "rate-limits-and-attack-protection",
            )
        )
    if production and settings.database_url.startswith("sqlite"):
        findings.append(
            Finding(
                "warning",
                "database.sqlite",
                "the database is SQLite: it serves one host only (counters, sessions and "
                "keys cannot be shared); use PostgreSQL for production",
                "scaling-out",
            )
        )
    return findings
