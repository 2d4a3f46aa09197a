"""Signing out at the upstream IdP too, whatever its protocol."""

from __future__ import annotations

from app.login import oidc_logout
from app.login import saml_views
from app.sessions.models import SsoSession


def after_logout(ended: SsoSession, return_to: str | None = None) -> str | None:
    """Where to send the browser after Foyer ended ``ended`` so that the upstream IdP signs
    out too (SAML Single Logout, or OpenID Connect RP-initiated logout), else None."""
    return saml_views.upstream_logout_url(ended, return_to) or oidc_logout.upstream_logout_url(
        ended, return_to
    )
