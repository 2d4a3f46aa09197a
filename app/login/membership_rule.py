"""Builtin login rule: signing in to an organization takes membership, for shared user pools.

A connection enabled for exactly one organization holds that organization's *isolated*
users: every user of it belongs there, no membership row needed. A connection enabled for
several organizations (or for none) is a *shared pool*: its users enter an organization
only as members (:class:`app.orgs.models.Membership`, mirrored in
``app_metadata.organizations``, which admins and plugins may also fill by name or id).
Enabling a dedicated connection for a second organization therefore tightens access.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.connections.models import OrganizationConnection
from app.db import session
from app.hookspecs import hookimpl
from app.login.rules import LoginDecision
from app.orgs.models import Membership

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.connections.models import Connection
    from app.login.rules import LoginContext
    from app.orgs.models import Organization


def is_dedicated(connection: Connection, organization: Organization) -> bool:
    """The connection is enabled for this organization and for no other."""
    org_ids = set(
        session.scalars(
            sa.select(OrganizationConnection.organization_id).where(
                OrganizationConnection.connection_id == connection.id
            )
        )
    )
    return org_ids == {organization.id}


def is_member(user: User, organization: Organization) -> bool:
    """A membership row, or the organization's name or id in ``app_metadata.organizations``."""
    listed = (user.app_metadata or {}).get("organizations") or []
    if isinstance(listed, list) and (organization.name in listed or organization.id in listed):
        return True
    return (
        session.get(Membership, {"user_id": user.id, "organization_id": organization.id})
        is not None
    )


@hookimpl
def check_login(context: LoginContext) -> LoginDecision | None:
    organization = context.organization
    if organization is None:
        return None
    if is_dedicated(context.connection, organization) or is_member(context.user, organization):
        return None
    return LoginDecision(
        code="not_a_member",
        reason=_l(
            "Your account is not a member of %(organization)s. Ask its administrator for "
            "an invitation.",
            organization=organization.display_name,
        ),
    )
