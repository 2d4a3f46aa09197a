"""``/api/v1/users``: search, invite, read, change, block, sign out and delete users."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask_smorest import Blueprint
from werkzeug.wrappers import Response

from app.accounts.credentials import sign_out_everywhere
from app.accounts.emails import send_password_reset
from app.accounts.emails import send_verification
from app.accounts.models import Identity
from app.accounts.models import User
from app.accounts.services import PasswordRejected
from app.accounts.services import anonymize_user
from app.accounts.services import create_user
from app.accounts.services import delete_user
from app.accounts.services import normalize_email
from app.accounts.services import set_blocked
from app.api import schemas as s
from app.api.errors import ApiError
from app.api.errors import invalid
from app.api.errors import json_response
from app.api.errors import not_found
from app.api.http import check_if_match
from app.api.http import idempotent
from app.api.http import page_after
from app.api.http import with_etag
from app.api.policy import check_may_change_everywhere
from app.api.policy import current_principal
from app.api.policy import in_organization
from app.api.policy import organization_for
from app.api.policy import requires
from app.api.policy import user_for
from app.api.policy import users_visible
from app.api.serialize import checked_metadata
from app.api.serialize import grant_json
from app.api.serialize import identity_json
from app.api.serialize import iso
from app.api.serialize import merge_patch
from app.api.serialize import session_json
from app.api.serialize import user_json
from app.connections.models import Connection
from app.connections.services import find_connection
from app.connections.services import first_password_connection
from app.db import session
from app.db import utcnow
from app.events.record import record_event
from app.oidc.models import TokenGrant
from app.oidc.tokens import revoke_grant
from app.orgs.invitations import target_connection
from app.orgs.models import Membership
from app.orgs.models import Organization
from app.orgs.services import add_member
from app.scim.models import ScimGroupMember
from app.scim.models import ScimUser
from app.sessions.services import active_sessions
from app.sessions.services import end_session_of
from app.textsearch import narrowed
from app.textsearch import unindexed

bp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Users of the tenant")

ALLOW_PASSWORDS = "api_passwords"
"""Key of ``Tenant.settings``: true lets API clients set a new user's password."""


@bp.route("")
@requires("read:users")
@bp.arguments(s.UserSearch, location="query", as_kwargs=True)
@bp.response(200, s.UserPage)
def search_users(limit: int = 50, cursor: str | None = None, **filters: t.Any) -> Response:
    """Search users (every filter is optional; results in creation order, by cursor)."""
    stmt = users_visible()
    principal = current_principal()
    if "email" in filters:
        stmt = stmt.where(User.email_normalized == normalize_email(filters["email"]))
    if "name" in filters:
        # a term of three characters or more through the trigram indexes (app.textsearch)
        stmt = narrowed(stmt, User.__table__, filters["name"])
        stmt = stmt.where(unindexed(User.name).contains(filters["name"], autoescape=True))
    if "organization" in filters:
        org = session.scalar(
            sa.select(Organization).where(
                Organization.tenant_id == principal.tenant.id,
                Organization.name == filters["organization"],
            )
        )
        if org is None or (principal.bound and org.id != principal.organization_id):
            return json_response(200, {"items": [], "next_cursor": None})
        stmt = stmt.where(in_organization(org.id))
    if "connection" in filters:
        stmt = stmt.join(Connection, Connection.id == User.connection_id).where(
            Connection.name == filters["connection"]
        )
    if "blocked" in filters:
        stmt = stmt.where(User.blocked.is_(filters["blocked"]))
    for name, column, op in (
        ("created_after", User.created_at, "ge"),
        ("created_before", User.created_at, "lt"),
        ("last_login_after", User.last_login_at, "ge"),
        ("last_login_before", User.last_login_at, "lt"),
    ):
        if name in filters:
            value = filters[name]
            stmt = stmt.where(column >= value if op == "ge" else column < value)
    users, next_cursor = page_after(stmt, User.created_at, User.id, cursor, limit)
    return json_response(200, {"items": [user_json(u) for u in users], "next_cursor": next_cursor})


def _connection_for(connection_name: str | None, org: Organization | None) -> Connection:
    principal = current_principal()
    if connection_name:
        connection = find_connection(principal.tenant, connection_name)
        if connection is None:
            raise invalid("connection", "No such connection.", "unknown_connection")
        if org is not None and connection.id not in {c.id for c in org.connections}:
            raise invalid("connection", "The organization does not enable this connection.")
        if principal.bound and org is None:
            raise invalid("organization", "Name the organization the user joins.")
        return connection
    found = target_connection(org) if org is not None else None
    if found is None and org is None:
        found = first_password_connection(principal.tenant)
    if found is None:
        raise invalid("connection", "There is no password connection to create the user in.")
    return found


@bp.route("", methods=["POST"])
@requires("create:users")
@idempotent
@bp.arguments(s.UserCreate)
@bp.response(201, s.UserSchema)
def create(data: dict[str, t.Any]) -> Response:
    """Create a user. By default an invitation: no password is set, and the user is emailed
    a link to choose one. A password is taken only when the tenant allows it."""
    principal = current_principal()
    org = None
    if "organization" in data:
        org = organization_for(data["organization"])
    elif principal.bound:
        org = organization_for(t.cast(str, principal.organization_id))
    connection = _connection_for(data.get("connection"), org)
    password = data.get("password")
    if password is not None and (principal.tenant.settings or {}).get(ALLOW_PASSWORDS) is not True:
        raise invalid(
            "password",
            "This tenant does not take passwords through the API: the user is invited to "
            "choose one.",
            "password_not_allowed",
        )
    normalized = normalize_email(data["email"])
    exists = session.scalar(
        sa.select(User.id).where(
            User.connection_id == connection.id, User.email_normalized == normalized
        )
    )
    if exists is not None:
        raise ApiError(
            409, "user_exists", "The connection already has a user with this email.", "email"
        )
    try:
        user = create_user(
            connection,
            email=data["email"],
            password=password,
            email_verified=data["email_verified"],
            organization=org,
            name=data.get("name"),
            given_name=data.get("given_name"),
            family_name=data.get("family_name"),
            locale=data.get("locale"),
            user_metadata=checked_metadata("user_metadata", data["user_metadata"]),
            app_metadata=checked_metadata(
                "app_metadata",
                {k: v for k, v in data["app_metadata"].items() if k != "organizations"},
            ),
        )
        if org is not None:
            add_member(org, user, data["roles"])
        session.commit()
    except PasswordRejected as exc:
        session.rollback()
        raise invalid("password", str(exc), "password_rejected") from None
    except ValueError:
        session.rollback()
        raise invalid("email", "Not an email address.") from None
    except sa.exc.IntegrityError:
        session.rollback()
        raise ApiError(
            409, "user_exists", "The connection already has this user.", "email"
        ) from None
    record_event(
        "user_created",
        tenant=principal.tenant,
        organization=org,
        user_id=user.id,
        client_id=principal.client.client_id,
        connection_id=connection.id,
        data={"via": "api"},
    )
    if password is None and data["send_invite"] and user.email:
        send_password_reset(user, org)
    body = user_json(user)
    return with_etag(body, 201, {"Location": f"/api/v1/users/{user.id}"})


@bp.route("/<user_id>")
@requires("read:users")
@bp.response(200, s.UserSchema)
def get_user(user_id: str) -> Response:
    """A user (with an ``ETag`` for ``If-Match``)."""
    return with_etag(user_json(user_for(user_id)))


@bp.route("/<user_id>", methods=["PATCH"])
@requires("update:users")
@bp.arguments(s.UserPatch, content_type="application/merge-patch+json")
@bp.response(200, s.UserSchema)
def update(patch: dict[str, t.Any], user_id: str) -> Response:
    """Change a user with a JSON merge patch (RFC 7396); ``If-Match`` guards against
    overwriting a change made since the user was read."""
    user = user_for(user_id)
    check_if_match(user_json(user))
    principal = current_principal()
    for name in ("name", "given_name", "family_name", "locale", "username", "email_verified"):
        if name in patch:
            setattr(user, name, patch[name])
    if "email" in patch:
        normalized = normalize_email(patch["email"])
        taken = session.scalar(
            sa.select(User.id).where(
                User.connection_id == user.connection_id,
                User.email_normalized == normalized,
                User.id != user.id,
            )
        )
        if taken is not None:
            raise ApiError(
                409, "user_exists", "Another user of the connection has this email.", "email"
            )
        user.email, user.email_normalized = patch["email"], normalized
        if "email_verified" not in patch:
            user.email_verified = False
    for name in ("user_metadata", "app_metadata"):
        if name in patch:
            value = merge_patch(getattr(user, name) or {}, patch[name] or {})
            if patch[name] is None:
                value = {}
            if name == "app_metadata":  # mirrors memberships: not the API's to set
                value["organizations"] = (user.app_metadata or {}).get("organizations", [])
                if not value["organizations"]:
                    value.pop("organizations")
            setattr(user, name, checked_metadata(name, value))
    blocking = patch.get("blocked")
    if blocking is not None and blocking != user.blocked:
        check_may_change_everywhere(user)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        session.rollback()
        raise ApiError(409, "conflict", "Another user has this email or username.") from None
    if blocking is not None and blocking != user.blocked:
        set_blocked(user, blocking)  # commits
    else:
        session.commit()
    record_event(
        "user_updated",
        tenant=principal.tenant,
        user_id=user.id,
        client_id=principal.client.client_id,
        data={"fields": sorted(patch)},
    )
    return with_etag(user_json(user))


@bp.route("/<user_id>", methods=["DELETE"])
@requires("delete:users")
@bp.arguments(s.DeleteQuery, location="query", as_kwargs=True)
@bp.response(204)
def delete(user_id: str, mode: str = "delete") -> Response:
    """Delete a user: every session and refresh token ends first, and applications
    registered for back-channel logout are told. The event log keeps the user's id.

    ``mode=anonymize`` keeps the user's row and events instead, without their personal
    data: profile, metadata, password, identities, memberships, SCIM links, and in their
    events the address and the identifier they signed in with."""
    user = user_for(user_id)
    check_if_match(user_json(user))
    check_may_change_everywhere(user)
    if mode == "anonymize":
        for model in (ScimGroupMember, ScimUser):
            session.execute(sa.delete(model).where(model.user_id == user.id))
        anonymize_user(user)
    else:
        delete_user(user)
    return Response(status=204)


def _block(user_id: str, blocked: bool) -> Response:
    user = user_for(user_id)
    check_may_change_everywhere(user)
    set_blocked(user, blocked)
    return with_etag(user_json(user))


@bp.route("/<user_id>/block", methods=["POST"])
@requires("update:users")
@bp.response(200, s.UserSchema)
def block(user_id: str) -> Response:
    """Block a user: sessions and refresh tokens end at once, sign-ins are refused."""
    return _block(user_id, True)


@bp.route("/<user_id>/unblock", methods=["POST"])
@requires("update:users")
@bp.response(200, s.UserSchema)
def unblock(user_id: str) -> Response:
    """Let a blocked user sign in again."""
    return _block(user_id, False)


def _organization_of_principal() -> Organization | None:
    principal = current_principal()
    return session.get(Organization, principal.organization_id) if principal.bound else None


@bp.route("/<user_id>/password-reset", methods=["POST"])
@requires("update:users")
@bp.response(202, s.Accepted)
def password_reset(user_id: str) -> Response:
    """Email the user a link to choose a new password."""
    user = user_for(user_id)
    if user.blocked or not user.email:
        raise ApiError(409, "cannot_send", "The user is blocked or has no email address.")
    return json_response(202, {"sent": send_password_reset(user, _organization_of_principal())})


@bp.route("/<user_id>/verification-email", methods=["POST"])
@requires("update:users")
@bp.response(202, s.Accepted)
def verification_email(user_id: str) -> Response:
    """Email the user a link that verifies their address."""
    user = user_for(user_id)
    if user.blocked or not user.email or user.email_verified:
        raise ApiError(409, "cannot_send", "The user is blocked, verified or has no email.")
    return json_response(202, {"sent": send_verification(user, _organization_of_principal())})


@bp.route("/<user_id>/sessions")
@requires("read:users")
@bp.response(200, s.SessionList)
def list_sessions(user_id: str) -> Response:
    """The user's active sessions, most recently used first."""
    user = user_for(user_id)
    return json_response(200, {"items": [session_json(x) for x in active_sessions(user)]})


@bp.route("/<user_id>/sessions", methods=["DELETE"])
@requires("update:users")
@bp.response(200, s.RevokedCounts)
def end_all(user_id: str) -> Response:
    """End every session and refresh token of the user (back-channel logout follows)."""
    user = user_for(user_id)
    counts = sign_out_everywhere(user, "api")
    session.commit()
    return json_response(
        200,
        {
            "sessions_ended": counts.get("sessions_ended", 0),
            "grants_revoked": counts.get("grants_revoked", 0),
        },
    )


@bp.route("/<user_id>/sessions/<session_id>", methods=["DELETE"])
@requires("update:users")
@bp.response(204)
def end_one(user_id: str, session_id: str) -> Response:
    """End one session of the user."""
    user = user_for(user_id)
    if end_session_of(user, session_id) is None:
        raise not_found("session")
    return Response(status=204)


def _active_grants(user: User) -> list[TokenGrant]:
    return list(
        session.scalars(
            sa.select(TokenGrant)
            .where(TokenGrant.user_id == user.id, TokenGrant.revoked_at.is_(None))
            .where(TokenGrant.expires_at > utcnow())
            .order_by(TokenGrant.created_at)
        )
    )


@bp.route("/<user_id>/refresh-tokens")
@requires("read:users")
@bp.response(200, s.RefreshTokenList)
def list_refresh_tokens(user_id: str) -> Response:
    """The user's refresh-token families that are not revoked."""
    user = user_for(user_id)
    return json_response(200, {"items": [grant_json(g) for g in _active_grants(user)]})


@bp.route("/<user_id>/refresh-tokens", methods=["DELETE"])
@requires("update:users")
@bp.response(200, s.RevokedCounts)
def revoke_all(user_id: str) -> Response:
    """Revoke every refresh-token family of the user (sessions stay)."""
    user = user_for(user_id)
    grants = _active_grants(user)
    for grant in grants:
        revoke_grant(grant.id, "api")
    session.commit()
    return json_response(200, {"sessions_ended": 0, "grants_revoked": len(grants)})


@bp.route("/<user_id>/refresh-tokens/<grant_id>", methods=["DELETE"])
@requires("update:users")
@bp.response(204)
def revoke_one(user_id: str, grant_id: str) -> Response:
    """Revoke one refresh-token family of the user."""
    user = user_for(user_id)
    if grant_id not in {g.id for g in _active_grants(user)}:
        raise not_found("refresh token")
    revoke_grant(grant_id, "api")
    session.commit()
    return Response(status=204)


@bp.route("/<user_id>/identities")
@requires("read:users")
@bp.response(200, s.IdentityList)
def identities(user_id: str) -> Response:
    """The upstream identities linked to the user."""
    user = user_for(user_id)
    rows = session.execute(
        sa.select(Identity, Connection.name)
        .join(Connection, Connection.id == Identity.connection_id)
        .where(Identity.user_id == user.id)
        .order_by(Identity.created_at)
    ).all()
    return json_response(200, {"items": [identity_json(i, name) for i, name in rows]})


@bp.route("/<user_id>/memberships")
@requires("read:users")
@bp.response(200, s.MembershipList)
def memberships(user_id: str) -> Response:
    """The organizations the user is a member of, with roles (a bound client: its own)."""
    user = user_for(user_id)
    principal = current_principal()
    stmt = (
        sa.select(Membership, Organization)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(Membership.user_id == user.id)
        .order_by(Organization.name)
    )
    if principal.bound:
        stmt = stmt.where(Organization.id == principal.organization_id)
    items = [
        {
            "organization": org.name,
            "organization_id": org.id,
            "roles": sorted(m.roles or []),
            "created_at": iso(m.created_at),
        }
        for m, org in session.execute(stmt).all()
    ]
    return json_response(200, {"items": items})
