"""What the end of an SSO session ends for the applications signed in through it.

:data:`app.sessions.services.sessions_ended` reaches :func:`sessions_ended` whatever ended
the sessions (``/logout``, RP-initiated logout, the account page, a password reset, a
block). For each application that got a code or tokens in those sessions:

- its refresh-token families from them are revoked when it asks for it (the client
  setting ``logout_revokes_refresh_tokens``; on by default for first-party applications,
  off for third-party ones, whose ``offline_access`` is meant to outlive the sign-in);
- when it registered a ``backchannel_logout_uri``, a logout token is queued for it
  (:mod:`app.oidc.backchannel`).
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from app.clients.models import Client
from app.clients.services import backchannel_logout_uri
from app.clients.services import logout_revokes_refresh_tokens
from app.db import session
from app.oidc import backchannel
from app.oidc.models import AuthorizationCode
from app.oidc.models import TokenGrant
from app.oidc.tokens import revoke_grant

if t.TYPE_CHECKING:
    from flask import Flask

    from app.sessions.models import SsoSession

REVOKED_REASON = "logout"


def sessions_ended(_app: Flask, *, sessions: list[SsoSession]) -> None:
    """Revoke and queue what the end of ``sessions`` calls for (nothing committed)."""
    by_id = {sso.id: sso for sso in sessions}
    ids = list(by_id)
    signed_in = session.execute(
        sa.union(
            sa.select(TokenGrant.sso_session_id, TokenGrant.client_id, TokenGrant.issuer).where(
                TokenGrant.sso_session_id.in_(ids)
            ),
            sa.select(
                AuthorizationCode.sso_session_id,
                AuthorizationCode.client_id,
                AuthorizationCode.issuer,
            ).where(AuthorizationCode.sso_session_id.in_(ids)),
        )
    ).all()
    if not signed_in:
        return
    clients = {
        client.client_id: client
        for client in session.scalars(
            sa.select(Client).where(
                Client.tenant_id.in_({sso.tenant_id for sso in sessions}),
                Client.client_id.in_({row.client_id for row in signed_in}),
            )
        )
    }
    revoking = [cid for cid, client in clients.items() if logout_revokes_refresh_tokens(client)]
    if revoking:
        families = session.scalars(
            sa.select(TokenGrant.id).where(
                TokenGrant.sso_session_id.in_(ids),
                TokenGrant.client_id.in_(revoking),
                TokenGrant.revoked_at.is_(None),
            )
        ).all()
        for grant_id in families:
            revoke_grant(grant_id, REVOKED_REASON)
    for sso_id, client_id, issuer in sorted(set(signed_in)):
        client = clients.get(client_id)
        uri = backchannel_logout_uri(client) if client is not None else None
        if client is not None and uri is not None:
            backchannel.queue(client, uri, issuer, by_id[sso_id])
