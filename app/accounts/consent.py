"""Consent for third-party applications: which scopes a user allowed which client.

A client registered with ``settings: {"require_consent": true}`` (an application the
tenant owner does not run) gets a code only after the user allowed the scopes it asks for;
the answer is remembered per user and client, and asked again only for new scopes (or with
``prompt=consent``). First-party clients never see this page.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.accounts.models import Consent
from app.db import session
from app.db import utcnow

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.clients.models import Client

SCOPE_DESCRIPTIONS: dict[str, t.Any] = {
    "openid": _l("Know who you are when you sign in"),
    "profile": _l("See your name and profile details"),
    "email": _l("See your email address"),
    "address": _l("See your postal address"),
    "phone": _l("See your phone number"),
    "offline_access": _l("Stay connected to your account when you are not using it"),
}


def requires_consent(client: Client) -> bool:
    return bool((client.settings or {}).get("require_consent"))


def scopes_of(scope: str | None) -> list[str]:
    """The requested scopes, de-duplicated, in request order."""
    seen: list[str] = []
    for item in (scope or "").split():
        if item not in seen:
            seen.append(item)
    return seen


def find_consent(user: User, client: Client) -> Consent | None:
    return session.scalar(
        sa.select(Consent).where(Consent.user_id == user.id, Consent.client_id == client.client_id)
    )


def needs_consent(
    user: User, client: Client, scope: str | None, asked_since: float | None = None
) -> bool:
    """Whether the user must be asked before ``client`` gets ``scope``.

    :param asked_since: With ``prompt=consent``: the epoch second the request started; an
        answer given before it does not count.
    """
    if not requires_consent(client):
        return False
    found = find_consent(user, client)
    if found is None:
        return True
    if asked_since is not None and found.granted_at.timestamp() < asked_since:
        return True
    return not set(scopes_of(scope)) <= set(found.scopes or [])


def remember(user: User, client: Client, scope: str | None) -> Consent:
    """Record that the user allowed ``scope`` (added to what they allowed before)."""
    found = find_consent(user, client)
    if found is None:
        found = Consent(
            tenant_id=user.tenant_id,
            user_id=user.id,
            client_id=client.client_id,
            scopes=[],
            granted_at=utcnow(),
        )
        session.add(found)
    found.scopes = sorted(set(found.scopes or []) | set(scopes_of(scope)))
    found.granted_at = utcnow()
    session.flush()
    return found


def describe(scope: str | None) -> list[tuple[str, str]]:
    """(scope, what it lets the application do) for the consent page."""
    return [
        (item, str(SCOPE_DESCRIPTIONS.get(item) or _("Use “%(scope)s”", scope=item)))
        for item in scopes_of(scope)
    ]
