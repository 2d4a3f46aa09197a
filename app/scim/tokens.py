"""SCIM bearer tokens of an organization: made by the CLI or the management API, shown once,
stored as SHA-256 (256 random bits, so a plain hash resists guessing)."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from app.db import session
from app.db import utcnow
from app.events.record import record_event
from app.scim.models import ScimToken
from app.security.crypto import new_token
from app.security.crypto import token_hash

if t.TYPE_CHECKING:
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

PREFIX = "scim_"
"""Tokens start with this, so secret scanners and people recognise them."""


def create_scim_token(organization: Organization, name: str = "") -> tuple[ScimToken, str]:
    """A new token for the organization's identity provider; returns (row, token in clear).
    Commits and records ``scim_token_created``."""
    value = PREFIX + new_token(32)
    row = ScimToken(
        tenant_id=organization.tenant_id,
        organization_id=organization.id,
        name=name.strip()[:128],
        token_hash=token_hash(value),
    )
    session.add(row)
    session.commit()
    record_event(
        "scim_token_created",
        tenant_id=organization.tenant_id,
        organization=organization,
        data={"token": row.id, "name": row.name},
    )
    return row, value


def list_scim_tokens(organization: Organization) -> list[ScimToken]:
    return list(
        session.scalars(
            sa.select(ScimToken)
            .where(ScimToken.organization_id == organization.id, ScimToken.revoked_at.is_(None))
            .order_by(ScimToken.created_at)
        )
    )


def revoke_scim_token(organization: Organization, token_id: str) -> bool:
    """Revoke one of the organization's tokens; False when there is no such live token."""
    row = session.scalar(
        sa.select(ScimToken).where(
            ScimToken.id == token_id[:40],
            ScimToken.organization_id == organization.id,
            ScimToken.revoked_at.is_(None),
        )
    )
    if row is None:
        return False
    row.revoked_at = utcnow()
    session.commit()
    record_event(
        "scim_token_revoked",
        tenant_id=organization.tenant_id,
        organization=organization,
        data={"token": row.id},
    )
    return True


def token_organization_id(value: str) -> str | None:
    """The organization a live token provisions (its last use is noted); None otherwise."""
    row = session.scalar(
        sa.select(ScimToken).where(
            ScimToken.token_hash == token_hash(value), ScimToken.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    row.last_used_at = utcnow()
    return row.organization_id


def scim_base_url(tenant: Tenant, organization: Organization) -> str:
    return f"{tenant.base_url}/scim/v2/{organization.name}"
