"""Finding or creating the user an upstream IdP signed in, then the sign-in's next steps.

A small stand-in for the federation core: the Identity row (connection, upstream subject)
finds the user again, never the email; a first sign-in creates the user in the connection
through ``prepare_user`` (just in time); later sign-ins refresh the mapped profile. It never
links to an existing account.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from app.accounts.models import Identity
from app.accounts.models import User
from app.accounts.services import create_user
from app.accounts.services import normalize_email
from app.connections.services import dedicated_organization
from app.db import session
from app.events.record import record_event
from app.login import steps

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from app.connections.models import Connection
    from app.connections.strategies import UpstreamProfile
    from app.login.context import SignIn

PROFILE_FIELDS = ("name", "given_name", "family_name", "locale")


def upstream_signed_in(
    sign_in: SignIn, connection: Connection, profile: UpstreamProfile
) -> Response | tuple[str, int]:
    """The upstream IdP signed ``profile`` in for ``sign_in`` through ``connection``."""
    tx = sign_in.transaction
    assert tx is not None
    identity = session.scalar(
        sa.select(Identity).where(
            Identity.connection_id == connection.id, Identity.subject == profile.subject
        )
    )
    created = identity is None
    if identity is None:
        user = create_user(
            connection,
            email=profile.email,
            username=None if profile.email else profile.subject[:128],
            email_verified=profile.email_verified,
            organization=sign_in.organization or dedicated_organization(connection),
            **{field: getattr(profile, field) for field in PROFILE_FIELDS},
        )
        identity = Identity(user_id=user.id, connection_id=connection.id, subject=profile.subject)
        session.add(identity)
    else:
        user = identity.user
        for field in PROFILE_FIELDS:
            value = getattr(profile, field)
            if value is not None:
                setattr(user, field, value)
        if profile.email and normalize_email(profile.email) != user.email_normalized:
            user.email = profile.email
            user.email_normalized = normalize_email(profile.email)
            user.email_verified = profile.email_verified
        elif profile.email:
            user.email_verified = user.email_verified or profile.email_verified
    user.app_metadata = {**(user.app_metadata or {}), **profile.app_metadata}
    if profile.groups:
        user.app_metadata = {**user.app_metadata, "groups": list(profile.groups)}
    identity.profile = dict(profile.claims)
    session.commit()
    if created:
        record_event(
            "user_created",
            tenant=sign_in.tenant,
            organization=sign_in.organization,
            user_id=user.id,
            connection_id=connection.id,
            data={"via": "upstream"},
        )
    return steps.upstream_authenticated(tx.id, t.cast(User, user), list(profile.amr))
