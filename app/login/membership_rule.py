"""Builtin login rule: signing in to an organization takes membership, for shared user pools.

The users of a connection dedicated to the organization (its *isolated* users) belong
there, no membership row needed; the users of a *shared pool* enter an organization only as
members (:class:`app.orgs.models.Membership`, mirrored in ``app_metadata.organizations``,
which admins and plugins may also fill by name or id). Which connection is which:
:mod:`app.connections.services`.
"""

from __future__ import annotations

import typing as t

from flask_babel import lazy_gettext as _l

from app.connections.services import is_dedicated
from app.db import session
from app.hookspecs import hookimpl
from app.login.rules import LoginDecision
from app.orgs.models import Membership

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.login.rules import LoginContext
    from app.orgs.models import Organization


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
