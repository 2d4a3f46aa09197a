"""``/api/v1/organizations``: organizations, their members and roles, invitations,
connections, email domains, branding, metadata and SCIM tokens."""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
from flask_smorest import Blueprint
from werkzeug.wrappers import Response

from app.accounts.models import User
from app.api import schemas as s
from app.api.errors import ApiError
from app.api.errors import invalid
from app.api.errors import json_response
from app.api.errors import not_found
from app.api.http import check_if_match
from app.api.http import idempotent
from app.api.http import page_after
from app.api.http import with_etag
from app.api.policy import current_principal
from app.api.policy import organization_for
from app.api.policy import requires
from app.api.policy import user_for
from app.api.serialize import checked_metadata
from app.api.serialize import invitation_json
from app.api.serialize import iso
from app.api.serialize import merge_patch
from app.api.serialize import organization_json
from app.branding.data import validate_branding
from app.connections.services import find_connection
from app.db import session
from app.events.record import record_event
from app.orgs import invitations
from app.orgs.models import Membership
from app.orgs.models import Organization
from app.orgs.services import create_organization
from app.orgs.services import remove_member
from app.orgs.services import set_connections
from app.orgs.services import set_email_domains
from app.orgs.services import set_member_roles
from app.scim.tokens import create_scim_token
from app.scim.tokens import list_scim_tokens
from app.scim.tokens import revoke_scim_token
from app.scim.tokens import scim_base_url

bp = Blueprint(
    "organizations",
    __name__,
    url_prefix="/api/v1/organizations",
    description="Organizations: members, invitations, connections, domains, branding",
)


def _branding(value: t.Any, field: str = "branding") -> dict[str, t.Any]:
    clean, problems = validate_branding(value)
    if problems:
        first = problems[0]
        errors = [{"field": f"{field}.{p.field}", "message": p.message} for p in problems]
        raise ApiError(
            422, "invalid_branding", first.message, f"{field}.{first.field}", errors=errors
        )
    return clean


def _connections(names: list[str]) -> list[t.Any]:
    principal = current_principal()
    found = []
    for name in dict.fromkeys(names):
        connection = find_connection(principal.tenant, name)
        if connection is None:
            raise invalid("connections", f"No connection named {name!r}.", "unknown_connection")
        found.append(connection)
    return found


@bp.route("")
@requires("read:organizations")
@bp.arguments(s.PageQuery, location="query", as_kwargs=True)
@bp.response(200, s.OrganizationPage)
def list_organizations(limit: int = 50, cursor: str | None = None) -> Response:
    """The tenant's organizations (a bound client: its own), in creation order."""
    principal = current_principal()
    stmt = sa.select(Organization).where(Organization.tenant_id == principal.tenant.id)
    if principal.bound:
        stmt = stmt.where(Organization.id == principal.organization_id)
    orgs, next_cursor = page_after(stmt, Organization.created_at, Organization.id, cursor, limit)
    return json_response(
        200, {"items": [organization_json(o) for o in orgs], "next_cursor": next_cursor}
    )


@bp.route("", methods=["POST"])
@requires("create:organizations", tenant_wide=True)
@idempotent
@bp.arguments(s.OrganizationCreate)
@bp.response(201, s.OrganizationSchema)
def create(data: dict[str, t.Any]) -> Response:
    """Create an organization."""
    principal = current_principal()
    taken = session.scalar(
        sa.select(Organization.id).where(
            Organization.tenant_id == principal.tenant.id, Organization.name == data["name"]
        )
    )
    if taken is not None:
        raise ApiError(409, "organization_exists", "An organization has this name.", "name")
    branding = _branding(data["branding"]) if data["branding"] else {}
    try:
        org = create_organization(
            principal.tenant,
            data["name"],
            data["display_name"],
            connections=_connections(data["connections"]),
            branding=branding,
            metadata_=checked_metadata("metadata", data["metadata"]),
            default_locale=data.get("default_locale"),
        )
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()
        raise ApiError(
            409, "organization_exists", "An organization has this name.", "name"
        ) from None
    record_event(
        "organization_created",
        tenant=principal.tenant,
        organization=org,
        client_id=principal.client.client_id,
    )
    return with_etag(organization_json(org), 201, {"Location": f"/api/v1/organizations/{org.name}"})


@bp.route("/<organization>")
@requires("read:organizations")
@bp.response(200, s.OrganizationSchema)
def get(organization: str) -> Response:
    """An organization, by name or id (with an ``ETag``)."""
    return with_etag(organization_json(organization_for(organization)))


@bp.route("/<organization>", methods=["PATCH"])
@requires("update:organizations")
@bp.arguments(s.OrganizationPatch, content_type="application/merge-patch+json")
@bp.response(200, s.OrganizationSchema)
def update(patch: dict[str, t.Any], organization: str) -> Response:
    """Change an organization with a JSON merge patch; ``branding`` is validated as in
    configuration files, ``metadata`` merges key by key."""
    org = organization_for(organization)
    check_if_match(organization_json(org))
    principal = current_principal()
    for name in ("display_name", "default_locale", "require_two_step"):
        if name in patch:
            setattr(org, name, patch[name])
    if "branding" in patch:
        merged = merge_patch(org.branding or {}, patch["branding"] or {})
        org.branding = _branding(merged) if patch["branding"] is not None else {}
    if "metadata" in patch:
        merged = merge_patch(org.metadata_ or {}, patch["metadata"] or {})
        org.metadata_ = checked_metadata(
            "metadata", merged if patch["metadata"] is not None else {}
        )
    session.commit()
    record_event(
        "organization_updated",
        tenant=principal.tenant,
        organization=org,
        client_id=principal.client.client_id,
        data={"fields": sorted(patch)},
    )
    return with_etag(organization_json(org))


@bp.route("/<organization>", methods=["DELETE"])
@requires("delete:organizations", tenant_wide=True)
@bp.response(204)
def delete(organization: str) -> Response:
    """Delete an organization with its memberships, invitations and domains (its users of
    shared connections stay)."""
    org = organization_for(organization)
    check_if_match(organization_json(org))
    principal = current_principal()
    org_id = org.id
    session.delete(org)
    session.commit()
    record_event(
        "organization_deleted",
        tenant=principal.tenant,
        client_id=principal.client.client_id,
        data={"organization": org_id},
    )
    return Response(status=204)


# --- members ---------------------------------------------------------------------------------


@bp.route("/<organization>/members")
@requires("read:organization_members")
@bp.arguments(s.PageQuery, location="query", as_kwargs=True)
@bp.response(200, s.MemberPage)
def members(organization: str, limit: int = 50, cursor: str | None = None) -> Response:
    """The organization's members and their roles."""
    org = organization_for(organization)
    stmt = sa.select(Membership).where(Membership.organization_id == org.id)
    rows, next_cursor = page_after(stmt, Membership.created_at, Membership.user_id, cursor, limit)
    users = {
        u.id: u
        for u in session.scalars(sa.select(User).where(User.id.in_([m.user_id for m in rows])))
    }
    items = [
        {
            "user_id": m.user_id,
            "email": users[m.user_id].email if m.user_id in users else None,
            "name": users[m.user_id].name if m.user_id in users else None,
            "roles": sorted(m.roles or []),
            "created_at": iso(m.created_at),
        }
        for m in rows
    ]
    return json_response(200, {"items": items, "next_cursor": next_cursor})


def _member_user(user_id: str) -> User:
    """A user of the tenant to add (a bound client: already visible to it, or any user of
    the tenant's shared pools it may invite in)."""
    principal = current_principal()
    if principal.bound:
        user = session.get(User, user_id) if len(user_id) <= 40 else None
        if user is None or user.tenant_id != principal.tenant.id:
            raise not_found("user")
        return user
    return user_for(user_id)


@bp.route("/<organization>/members/<user_id>", methods=["PUT"])
@requires("create:organization_members")
@bp.arguments(s.MemberRoles)
@bp.response(200, s.MemberSchema)
def put_member(data: dict[str, t.Any], organization: str, user_id: str) -> Response:
    """Make the user a member with exactly these roles (adds the membership if missing)."""
    org = organization_for(organization)
    user = _member_user(user_id)
    membership = set_member_roles(org, user, list(dict.fromkeys(data["roles"])))
    session.commit()
    return json_response(
        200,
        {
            "user_id": user.id,
            "email": user.email,
            "name": user.name,
            "roles": sorted(membership.roles or []),
            "created_at": iso(membership.created_at),
        },
    )


@bp.route("/<organization>/members/<user_id>", methods=["DELETE"])
@requires("delete:organization_members")
@bp.response(204)
def delete_member(organization: str, user_id: str) -> Response:
    """End a membership (the user stays; their sessions in other organizations too)."""
    org = organization_for(organization)
    user = user_for(user_id) if not current_principal().bound else _member_user(user_id)
    if session.get(Membership, (user.id, org.id)) is None:
        raise not_found("member")
    remove_member(org, user)
    session.commit()
    return Response(status=204)


# --- invitations -----------------------------------------------------------------------------


@bp.route("/<organization>/invitations")
@requires("read:organization_invitations")
@bp.response(200, s.InvitationList)
def list_invitations(organization: str) -> Response:
    org = organization_for(organization)
    items = [invitation_json(i, invitations.status(i)) for i in invitations.list_invitations(org)]
    return json_response(200, {"items": items})


@bp.route("/<organization>/invitations", methods=["POST"])
@requires("create:organization_invitations")
@idempotent
@bp.arguments(s.InvitationCreate)
@bp.response(201, s.CreatedInvitation)
def invite(data: dict[str, t.Any], organization: str) -> Response:
    """Invite an address; the acceptance link is in the answer once (and in the email)."""
    org = organization_for(organization)
    principal = current_principal()
    ttl = dt.timedelta(days=data["ttl_days"]) if "ttl_days" in data else None
    try:
        sent = invitations.invite(
            org,
            data["email"],
            data["roles"],
            invited_by=principal.client.name,
            locale=data.get("locale"),
            ttl=ttl,
            send=data["send_email"],
        )
    except invitations.InvitationError as exc:
        session.rollback()
        raise invalid("email", str(exc), "invalid_invitation") from None
    body = invitation_json(sent.invitation, invitations.status(sent.invitation))
    body.update(link=sent.link, delivered=sent.delivered)
    return json_response(
        201,
        body,
        {"Location": f"/api/v1/organizations/{org.name}/invitations/{sent.invitation.id}"},
    )


@bp.route("/<organization>/invitations/<invitation_id>", methods=["DELETE"])
@requires("delete:organization_invitations")
@bp.response(204)
def revoke_invitation(organization: str, invitation_id: str) -> Response:
    org = organization_for(organization)
    found = invitations.find_invitation(current_principal().tenant, invitation_id[:40])
    if found is None or found.organization_id != org.id:
        raise not_found("invitation")
    invitations.revoke(found)
    return Response(status=204)


# --- connections, email domains, branding ----------------------------------------------------


@bp.route("/<organization>/connections")
@requires("read:organizations")
@bp.response(200, s.ConnectionNameList)
def get_connections(organization: str) -> Response:
    org = organization_for(organization)
    return json_response(200, {"connections": [c.name for c in org.connections]})


@bp.route("/<organization>/connections", methods=["PUT"])
@requires("update:organizations")
@bp.arguments(s.ConnectionNames)
@bp.response(200, s.ConnectionNameList)
def put_connections(data: dict[str, t.Any], organization: str) -> Response:
    """Enable exactly these connections, in this order (the login page's)."""
    org = organization_for(organization)
    set_connections(org, _connections(data["connections"]))
    session.commit()
    return json_response(200, {"connections": [c.name for c in org.connections]})


def _domains_json(org: Organization) -> dict[str, t.Any]:
    names = {}
    for row in org.email_domains:
        if row.connection_id and row.connection_id not in names:
            connection = next((c for c in org.connections if c.id == row.connection_id), None)
            names[row.connection_id] = connection.name if connection else None
    return {
        "email_domains": [
            {
                "domain": row.domain,
                "include_subdomains": bool(row.include_subdomains),
                "connection": names.get(row.connection_id) if row.connection_id else None,
            }
            for row in org.email_domains
        ]
    }


@bp.route("/<organization>/email-domains")
@requires("read:organizations")
@bp.response(200, s.EmailDomainList)
def get_domains(organization: str) -> Response:
    return json_response(200, _domains_json(organization_for(organization)))


@bp.route("/<organization>/email-domains", methods=["PUT"])
@requires("update:organizations")
@bp.arguments(s.EmailDomains)
@bp.response(200, s.EmailDomainList)
def put_domains(data: dict[str, t.Any], organization: str) -> Response:
    """Give the organization exactly these email domains (home realm discovery)."""
    org = organization_for(organization)
    wanted = []
    for index, item in enumerate(data["email_domains"]):
        connection_id = None
        if item.get("connection"):
            connection = next((c for c in org.connections if c.name == item["connection"]), None)
            if connection is None:
                raise invalid(
                    f"email_domains.{index}.connection", "Not a connection of the organization."
                )
            connection_id = connection.id
        wanted.append((item["domain"], item["include_subdomains"], connection_id))
    try:
        set_email_domains(org, wanted)
        session.commit()
    except ValueError as exc:
        session.rollback()
        raise invalid("email_domains", str(exc)) from None
    except sa.exc.IntegrityError:
        session.rollback()
        raise ApiError(
            409, "domain_taken", "Another organization has one of these domains.", "email_domains"
        ) from None
    return json_response(200, _domains_json(org))


@bp.route("/<organization>/branding")
@requires("read:organizations")
@bp.response(200, s.BrandingOut)
def get_branding(organization: str) -> Response:
    org = organization_for(organization)
    return json_response(200, {"branding": dict(org.branding or {})})


@bp.route("/<organization>/branding", methods=["PUT"])
@requires("update:organizations")
@bp.arguments(s.Branding)
@bp.response(200, s.BrandingOut)
def put_branding(data: dict[str, t.Any], organization: str) -> Response:
    """Replace the branding (logo, colors, support contacts, legal links), validated."""
    org = organization_for(organization)
    org.branding = _branding(data)
    session.commit()
    return json_response(200, {"branding": dict(org.branding or {})})


# --- SCIM tokens -----------------------------------------------------------------------------


@bp.route("/<organization>/scim-tokens")
@requires("read:scim_tokens")
@bp.response(200, s.ScimTokenList)
def scim_tokens(organization: str) -> Response:
    org = organization_for(organization)
    items = [
        {
            "id": x.id,
            "name": x.name,
            "created_at": iso(x.created_at),
            "last_used_at": iso(x.last_used_at),
        }
        for x in list_scim_tokens(org)
    ]
    return json_response(200, {"items": items})


@bp.route("/<organization>/scim-tokens", methods=["POST"])
@requires("create:scim_tokens")
@bp.arguments(s.ScimTokenCreate)
@bp.response(201, s.CreatedScimToken)
def new_scim_token(data: dict[str, t.Any], organization: str) -> Response:
    """A bearer token for the organization's identity provider; shown once."""
    org = organization_for(organization)
    row, value = create_scim_token(org, data["name"])
    body = {
        "id": row.id,
        "name": row.name,
        "created_at": iso(row.created_at),
        "last_used_at": None,
        "token": value,
        "base_url": scim_base_url(current_principal().tenant, org),
    }
    return json_response(201, body)


@bp.route("/<organization>/scim-tokens/<token_id>", methods=["DELETE"])
@requires("delete:scim_tokens")
@bp.response(204)
def delete_scim_token(organization: str, token_id: str) -> Response:
    org = organization_for(organization)
    if not revoke_scim_token(org, token_id):
        raise not_found("SCIM token")
    return Response(status=204)
