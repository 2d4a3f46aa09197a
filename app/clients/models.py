"""Applications registered with a tenant: the client registry every floor above reads.

A domain room of its own (not part of the protocol endpoints) because the sign-in pages,
discovery and the account pages all need to know which application a sign-in serves.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.db import Base
from app.db import JSONDict
from app.db import created_at
from app.db import pk
from app.db import row_metadata


class Client(Base):
    """An application registered with the tenant (relying party or machine client)."""

    __tablename__ = "client"

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """Public identifier, globally unique so a token request names one tenant."""
    name: Mapped[str]
    secret_hash: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    """SHA-256 of the client secret (a 256-bit random value); None for public clients."""
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        sa.String(32), default="client_secret_basic"
    )
    """``client_secret_basic``, ``client_secret_post`` or ``none`` (public, PKCE required)."""
    redirect_uris: Mapped[list[str]] = mapped_column(default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(default=list)
    grant_types: Mapped[list[str]] = mapped_column(default=lambda: ["authorization_code"])
    scope: Mapped[str] = mapped_column(sa.String(1024), default="openid profile email")
    """Scopes the client may ask for (space-separated)."""
    audience: Mapped[str | None] = mapped_column(sa.String(512), default=None)
    """Default ``aud`` of access tokens (an API identifier); None means the tenant issuer."""
    id_token_signed_response_alg: Mapped[str] = mapped_column(sa.String(8), default="RS256")
    organization_usage: Mapped[str] = mapped_column(sa.String(8), default="allow")
    """``deny``, ``allow`` or ``require``: how this client uses organizations."""
    settings: Mapped[JSONDict] = mapped_column(default=dict)
    """Per-client options: token lifetimes, branding overrides, allowed organizations,
    ``require_pkce`` (absent means true), ``metadata`` (read it as ``client.metadata``)."""
    created_at: Mapped[created_at]

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def requires_pkce(self) -> bool:
        """PKCE on every authorization request; only a confidential client may opt out."""
        return self.is_public or (self.settings or {}).get("require_pkce", True) is not False


def _write_client_metadata(client: Client, value: dict[str, t.Any]) -> None:
    client.settings = {**(client.settings or {}), "metadata": value}


row_metadata(Client, lambda client: (client.settings or {}).get("metadata"), _write_client_metadata)
