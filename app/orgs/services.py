"""Creating organizations, enabling connections, memberships."""

from __future__ import annotations

import types
import typing as t

import sqlalchemy as sa

from app.branding.data import validate_branding
from app.connections.models import OrganizationConnection
from app.db import session
from app.orgs.models import Membership
from app.orgs.models import Organization
from app.orgs.models import OrgDomain
from app.rowcache import row_cache
from app.tenancy.services import SLUG
from app.tenancy.services import normalize_hostname

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


def find_organization_by_name(tenant: Tenant, name: str) -> Organization | None:
    """By name (slug) only: the form of ``/o/<name>/`` paths, one per organization."""
    return session.scalar(
        sa.select(Organization).where(
            Organization.tenant_id == tenant.id, Organization.name == name
        )
    )


def has_organizations(tenant: Tenant) -> bool:
    """The tenant has at least one organization (else no picker is offered). Asked by
    every identifier page: kept in the worker's row cache (:mod:`app.rowcache`)."""
    tenant_id = tenant.id
    return row_cache().value(
        ("has_organizations", tenant_id),
        lambda s: (
            s.scalar(sa.select(sa.exists().where(Organization.tenant_id == tenant_id))) is True
        ),
    )


def checked_branding(value: object) -> dict[str, t.Any]:
    """Branding data as stored: validated (colors, https URLs, emails, lengths) or refused.

    :raises ValueError: naming every bad field.
    """

    clean, problems = validate_branding(value)
    if problems:
        raise ValueError("; ".join(f"branding.{problem}" for problem in problems))
    return clean


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
    if fields.get("branding"):
        fields["branding"] = checked_branding(fields["branding"])
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


def normalize_email_domain(value: str) -> str:
    """The IDNA, lower-case form of an email domain (``Bücher.example`` ->
    ``xn--bcher-kva.example``); ValueError when it is not a host name with a dot."""

    domain = normalize_hostname(value.removeprefix("@"))
    if "." not in domain:
        raise ValueError(f"{value!r} is not an email domain (it has no dot)")
    return domain


def set_connections(org: Organization, connections: t.Sequence[Connection]) -> None:
    """Enable exactly ``connections`` for the organization, in this order (login page)."""
    wanted = [c.id for c in connections]
    for link in list(org.connection_links):
        if link.connection_id not in wanted:
            org.connection_links.remove(link)
    links = {link.connection_id: link for link in org.connection_links}
    for position, connection_id in enumerate(wanted):
        existing = links.get(connection_id)
        if existing is None:
            org.connection_links.append(
                OrganizationConnection(connection_id=connection_id, position=position)
            )
        else:
            existing.position = position
    session.flush()
    session.expire(org, ["connections"])


def set_email_domains(org: Organization, domains: t.Sequence[tuple[str, bool, str | None]]) -> None:
    """Give the organization exactly these email domains: (domain, include_subdomains,
    connection id or None). Removals are flushed first, so a domain may move from one
    organization to another when the caller first calls this with the shrunk lists."""
    wanted = {normalize_email_domain(d): (sub, cid) for d, sub, cid in domains}
    for row in list(org.email_domains):
        if row.domain not in wanted:
            org.email_domains.remove(row)
    session.flush()
    rows = {row.domain: row for row in org.email_domains}
    for domain, (include_subdomains, connection_id) in wanted.items():
        kept = rows.get(domain)
        if kept is None:
            kept = OrgDomain(tenant_id=org.tenant_id, domain=domain)
            org.email_domains.append(kept)
        kept.include_subdomains = include_subdomains
        kept.connection_id = connection_id
    session.flush()


def set_member_roles(org: Organization, user: User, roles: t.Sequence[str]) -> Membership:
    """Make the user a member with exactly ``roles`` (adds the membership when missing)."""
    membership = session.get(Membership, (user.id, org.id))
    if membership is None:
        return add_member(org, user, roles)
    membership.roles = list(roles)
    session.flush()
    return membership


def remove_member(org: Organization, user: User) -> None:
    """End a membership and drop the organization from ``app_metadata.organizations``."""
    membership = session.get(Membership, (user.id, org.id))
    if membership is not None:
        session.delete(membership)
    orgs = [name for name in (user.app_metadata or {}).get("organizations", []) if name != org.name]
    user.app_metadata = {**(user.app_metadata or {}), "organizations": orgs}
    session.flush()


def organization_metadata(org: Organization) -> t.Mapping[str, t.Any]:
    """The organization's metadata, read-only: what plugins read (claims, rules, templates).

    The column's Python name is ``metadata_`` (``metadata`` belongs to SQLAlchemy), so
    plugins read it through this function rather than guessing the attribute.
    """
    return types.MappingProxyType(dict(org.metadata_ or {}))


def member_roles(org: Organization, user: User) -> list[str]:
    """The user's roles in the organization (empty when not a member), sorted."""
    membership = session.get(Membership, (user.id, org.id))
    return sorted(membership.roles) if membership is not None else []
