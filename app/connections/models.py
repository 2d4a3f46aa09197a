"""Connections and which organizations enable them."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.db import Base
from app.db import JSONDict
from app.db import created_at
from app.db import pk
from app.security.crypto import decrypt_json
from app.security.crypto import encrypt_json


class Connection(Base):
    """A source of identities, served by the connection strategy named in ``strategy``."""

    __tablename__ = "connection"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name"),
        # the oldest connection that fits, without reading a connection per organization
        sa.Index("ix_connection_tenant_id_created_at", "tenant_id", "created_at", "name"),
    )

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(63))
    display_name: Mapped[str] = mapped_column(default="")
    strategy: Mapped[str] = mapped_column(sa.String(63))
    """Name of a registered connection strategy (``database``, ``oidc``, ``legacy``...)."""
    options: Mapped[JSONDict] = mapped_column(default=dict)
    """Strategy options (non-secret)."""
    secrets_encrypted: Mapped[str | None] = mapped_column(sa.Text, default=None)
    """Strategy secrets (upstream client secrets...), a Fernet token of a JSON object."""
    signup_enabled: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    """False: switched off, kept with its users and settings: no login page or discovery
    offers it, and answers from its IdP are refused (``foyer connections disable``)."""
    created_at: Mapped[created_at]

    def get_secrets(self) -> dict[str, t.Any]:
        return decrypt_json(self.secrets_encrypted) if self.secrets_encrypted else {}

    def set_secrets(self, values: dict[str, t.Any]) -> None:
        self.secrets_encrypted = encrypt_json(values) if values else None


class OrganizationConnection(Base):
    """An organization enables a connection; its login page offers the enabled ones."""

    __tablename__ = "organization_connection"

    organization_id: Mapped[str] = mapped_column(
        sa.ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    connection_id: Mapped[str] = mapped_column(
        sa.ForeignKey("connection.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    """Indexed on its own: "which organizations enable this connection" (dedicated or
    shared pool) is asked on every sign-in to an organization."""
    position: Mapped[int] = mapped_column(default=0)
    """Order on the login page."""
