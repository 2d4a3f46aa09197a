"""Creating organizations, enabling connections, memberships."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from app.connections.models import OrganizationConnection
from app.db import session
from app.orgs.models import Membership
from app.orgs.models import Organization
from app.orgs.models import OrgDomain
from app.tenancy.services import SLUG

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.connections.models import Connection
    from app.tenancy.models import Tenant


def find_organization(tenant: Tenant, name_or_id: str) -> Organization | None:
    return session.scalar(
        sa.select(Organization).where(
            Organization.tenant_id == tenant.id,
            sa.or_(Organization.name == name_or_id, Organization.id == name_or_id),
        )
    )


def create_organization(
    tenant: Tenant,
    name: str,
    display_name: str,
    connections: t.Sequence[Connection] = (),
    email_domains: t.Sequence[str] = (),
    **fields: t.Any,
) -> Organization:
    if not SLUG.match(name):
        raise ValueError("an organization name is lower-case letters, digits and dashes")
    org = Organization(tenant_id=tenant.id, name=name, display_name=display_name, **fields)
    session.add(org)
    session.flush()
    for position, connection in enumerate(connections):
        org.connection_links.append(
            OrganizationConnection(connection_id=connection.id, position=position)
        )
    for domain in email_domains:
        org.email_domains.append(
            OrgDomain(tenant_id=tenant.id, domain=domain.encode("idna").decode().lower())
        )
    session.flush()
    return org


def add_member(org: Organization, user: User, roles: t.Sequence[str] = ()) -> Membership:
    """Make a shared-pool user a member; mirrored in ``app_metadata.organizations``."""
    membership = Membership(user_id=user.id, organization_id=org.id, roles=list(roles))
    session.add(membership)
    orgs = list((user.app_metadata or {}).get("organizations", []))
    if org.name not in orgs:
        user.app_metadata = {**(user.app_metadata or {}), "organizations": [*orgs, org.name]}
    session.flush()
    return membership
