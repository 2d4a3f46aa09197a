"""Invitations into an organization: create, send, revoke, accept (no Flask request needed).

An invitation is bound to one email address and one organization, carries the roles the
invitee will get, expires (``invitation_lifetime``, 7 days by default) and is accepted at
most once: accepting uses its single-use token and marks the row with conditional updates
in one transaction, so of two concurrent accepts exactly one wins (L-10). Inviting the
same address again revokes the older pending invitation.

The invitee becomes a user of the organization's password connection: a dedicated
(isolated) connection needs nothing more; a shared pool also gets a membership with the
roles (roles on an isolated connection are kept as a membership too).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import typing as t

import sqlalchemy as sa
from flask import current_app

from app.accounts import tokens
from app.accounts.emails import deliver
from app.accounts.emails import tenant_url
from app.accounts.services import clean_email
from app.accounts.services import create_user
from app.accounts.services import normalize_email
from app.connections.services import is_dedicated
from app.connections.strategies import kind_of
from app.connections.strategies import strategy_for
from app.db import session
from app.db import utcnow
from app.events.record import record_event
from app.mail.render import render_email
from app.orgs.models import Invitation
from app.orgs.models import Organization
from app.orgs.services import set_member_roles
from app.tenancy.models import Tenant

if t.TYPE_CHECKING:
    from app.accounts.models import OneTimeToken
    from app.accounts.models import User
    from app.connections.models import Connection

EMAIL_SHAPE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
ROLE_SHAPE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_LIFETIME = dt.timedelta(days=30)


class InvitationError(ValueError):
    """The invitation cannot be made as asked (message for the admin)."""


@dataclasses.dataclass(frozen=True)
class SentInvitation:
    invitation: Invitation
    link: str
    """The acceptance link (the token's only copy besides the email)."""
    delivered: bool


def invite(
    organization: Organization,
    email: str,
    roles: t.Sequence[str] = (),
    *,
    invited_by: str | None = None,
    locale: str | None = None,
    ttl: dt.timedelta | None = None,
    send: bool = True,
) -> SentInvitation:
    """Invite ``email`` into ``organization``; commits, records ``invitation_created``,
    and (``send``) emails the link in the invitee's language and the organization's brand.

    :raises InvitationError: for a malformed address or role, or a lifetime over 30 days.
    """
    try:
        email = clean_email(email)
    except ValueError:
        raise InvitationError(f"{email.strip()!r} is not an email address") from None
    if len(email) > 320 or not EMAIL_SHAPE.match(email) or not email.isprintable():
        raise InvitationError(f"{email!r} is not an email address")
    bad = [role for role in roles if not ROLE_SHAPE.match(role)]
    if bad:
        raise InvitationError(f"invalid role names: {', '.join(bad)}")
    if ttl is not None and not dt.timedelta(0) < ttl <= MAX_LIFETIME:
        raise InvitationError("an invitation lasts more than 0 seconds and at most 30 days")
    if target_connection(organization) is None:
        raise InvitationError(f"organization {organization.name} has no password connection")
    normalized = normalize_email(email)
    for older in pending_for(organization, normalized):
        older.revoked_at = utcnow()
    lifetime = ttl if ttl is not None else tokens.lifetime(tokens.INVITATION)
    invitation = Invitation(
        tenant_id=organization.tenant_id,
        organization_id=organization.id,
        email=email,
        email_normalized=normalized,
        roles=list(dict.fromkeys(roles)),
        invited_by=(invited_by or "").strip()[:255] or None,
        locale=(locale or "").strip()[:16] or None,
        expires_at=utcnow() + lifetime,
    )
    session.add(invitation)
    session.flush()
    issued = tokens.issue(
        tokens.INVITATION,
        tenant_id=organization.tenant_id,
        data={"invitation_id": invitation.id},
        ttl=lifetime,
    )
    session.commit()
    record_event(
        "invitation_created",
        tenant_id=organization.tenant_id,
        organization=organization,
        data={
            "invitation": invitation.id,
            "roles": invitation.roles,
            "invited_by": invitation.invited_by,
        },
    )
    link = acceptance_link(organization, issued.value)
    delivered = send_invitation(invitation, link) if send else False
    return SentInvitation(invitation, link, delivered)


def acceptance_link(organization: Organization, token: str) -> str:
    return tenant_url(_tenant(organization), "orgs.accept_invitation", organization, token=token)


def send_invitation(invitation: Invitation, link: str) -> bool:
    """Email the invitation (blocking; retried on a failed delivery)."""
    organization = invitation.organization
    tenant = _tenant(organization)
    lifetime = invitation.expires_at - utcnow()
    settings = current_app.extensions["foyer.settings"]
    days = max(1, round(lifetime.total_seconds() / 86400)) if lifetime.total_seconds() > 0 else 0
    known = existing_user(invitation)
    message = render_email(
        "invitation",
        to=invitation.email,
        tenant=tenant,
        organization=organization,
        locale=invitation.locale or (known.locale if known is not None else None),
        purpose="invitation",
        accept_url=link,
        organization_name=display_name(organization),
        inviter=invitation.invited_by if invitation.invited_by != "cli" else None,
        days=days or max(1, settings.invitation_lifetime // 86400),
        roles=invitation.roles,
    )
    return deliver(message, tenant, organization)


def display_name(organization: Organization) -> str:
    name = (organization.branding or {}).get("display_name")
    if isinstance(name, str) and name.strip():
        return name.strip()[:120]
    return organization.display_name


def pending_for(organization: Organization, email_normalized: str) -> list[Invitation]:
    return list(
        session.scalars(
            sa.select(Invitation).where(
                Invitation.organization_id == organization.id,
                Invitation.email_normalized == email_normalized,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
        )
    )


def list_invitations(organization: Organization) -> list[Invitation]:
    return list(
        session.scalars(
            sa.select(Invitation)
            .where(Invitation.organization_id == organization.id)
            .order_by(Invitation.created_at)
        )
    )


def status(invitation: Invitation) -> str:
    """``pending``, ``accepted``, ``revoked`` or ``expired``."""
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= utcnow():
        return "expired"
    return "pending"


def find_invitation(tenant: Tenant, invitation_id: str) -> Invitation | None:
    invitation = session.get(Invitation, invitation_id)
    return invitation if invitation is not None and invitation.tenant_id == tenant.id else None


def revoke(invitation: Invitation) -> bool:
    """Revoke a pending invitation (its link stops working); False when it was already
    accepted or revoked. Commits and records ``invitation_revoked``."""
    result = session.execute(
        sa.update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    won = t.cast(sa.CursorResult[t.Any], result).rowcount == 1
    session.commit()
    session.refresh(invitation)
    if won:
        record_event(
            "invitation_revoked",
            tenant_id=invitation.tenant_id,
            organization=invitation.organization,
            data={"invitation": invitation.id},
        )
    return won


def pending_by_token(tenant: Tenant, value: str | None) -> tuple[OneTimeToken, Invitation] | None:
    """The usable invitation a link names (token unused and unexpired, invitation pending,
    same tenant), without using it; None otherwise."""
    row = tokens.peek(value, tokens.INVITATION, tenant.id)
    if row is None:
        return None
    invitation = session.get(Invitation, row.data.get("invitation_id", ""))
    if invitation is None or invitation.tenant_id != tenant.id or status(invitation) != "pending":
        return None
    return row, invitation


def target_connection(organization: Organization) -> Connection | None:
    """The organization's first password connection: where invitees get their account."""
    return next((c for c in organization.connections if kind_of(c) == "password"), None)


def existing_user(invitation: Invitation) -> User | None:
    """The account the invited address already has in the target connection, if any."""
    connection = target_connection(invitation.organization)
    if connection is None:
        return None
    user = strategy_for(connection).find_user(invitation.email)
    return user if user is not None and user.tenant_id == invitation.tenant_id else None


def _claim(tenant: Tenant, value: str, invitation: Invitation, user_id: str | None = None) -> bool:
    """Use the token and mark the invitation accepted, both conditionally (uncommitted)."""
    if tokens.consume(value, tokens.INVITATION, tenant.id) is None:
        return False
    result = session.execute(
        sa.update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .values(accepted_at=utcnow(), accepted_user_id=user_id)
        .execution_options(synchronize_session=False)
    )
    return t.cast(sa.CursorResult[t.Any], result).rowcount == 1


def accept_as_new_user(
    tenant: Tenant, value: str, invitation: Invitation, password: str, name: str | None = None
) -> User | None:
    """Create the invitee's account (email verified: the link reached it) and accept.

    None when the invitation was used, revoked or expired meanwhile (nothing is stored).

    :raises app.accounts.services.PasswordRejected: when the password breaks the policy.
    :raises app.hooks.PluginError: when a ``prepare_user`` or password plugin raises.
    """
    organization = invitation.organization
    connection = target_connection(organization)
    if connection is None:
        return None
    try:
        if not _claim(tenant, value, invitation):  # first: of two accepts one gets here
            session.rollback()
            return None
        user = create_user(
            connection,
            email=invitation.email,
            password=password,
            name=name,
            email_verified=True,
            organization=organization,
            locale=invitation.locale,
        )
        session.execute(
            sa.update(Invitation)
            .where(Invitation.id == invitation.id)
            .values(accepted_user_id=user.id)
            .execution_options(synchronize_session=False)
        )
        _grant_membership(invitation, user, connection)
        session.commit()
    except sa.exc.IntegrityError:  # the address got an account meanwhile
        session.rollback()
        return None
    except Exception:
        session.rollback()
        raise
    record_event(
        "user_created",
        tenant=tenant,
        organization=organization,
        user_id=user.id,
        connection_id=connection.id,
        data={"via": "invitation"},
    )
    _accepted(tenant, invitation, user, new=True)
    return user


def accept_as_existing_user(tenant: Tenant, value: str, invitation: Invitation, user: User) -> bool:
    """Add an existing account (who proved it is theirs) to the organization and accept."""
    connection = target_connection(invitation.organization)
    if connection is None or user.connection_id != connection.id:
        return False
    if user.email_normalized != invitation.email_normalized:
        return False
    if not _claim(tenant, value, invitation, user.id):
        session.rollback()
        return False
    _grant_membership(invitation, user, connection)
    user.email_verified = True
    session.commit()
    _accepted(tenant, invitation, user, new=False)
    return True


def _grant_membership(invitation: Invitation, user: User, connection: Connection) -> None:
    organization = invitation.organization
    if invitation.roles or not is_dedicated(connection, organization):
        set_member_roles(organization, user, invitation.roles)


def _accepted(tenant: Tenant, invitation: Invitation, user: User, new: bool) -> None:
    record_event(
        "invitation_accepted",
        tenant=tenant,
        organization=invitation.organization,
        user_id=user.id,
        connection_id=user.connection_id,
        data={"invitation": invitation.id, "new_user": new, "roles": invitation.roles},
    )


def _tenant(organization: Organization) -> Tenant:
    tenant = session.get(Tenant, organization.tenant_id)
    assert tenant is not None
    return tenant
