"""What upstream OpenID Connect logout needs: the ID token an IdP issued for the sign-in
that started a Foyer session (its ``id_token_hint``), kept encrypted until the session ends."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.db import Base
from app.db import created_at
from app.db import pk
from app.security.crypto import decrypt_json
from app.security.crypto import encrypt_json


class OidcUpstreamSession(Base):
    """The upstream session behind a Foyer sign-in through an ``oidc`` connection (or a
    preset) whose ``upstream_logout`` is on."""

    __tablename__ = "oidc_upstream_session"

    id: Mapped[pk]
    connection_id: Mapped[str] = mapped_column(
        sa.ForeignKey("connection.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    sso_session_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("sso_session.id", ondelete="CASCADE"), default=None, index=True
    )
    """The Foyer session it started (None while a step such as two-step verification waits)."""
    logout_encrypted: Mapped[str] = mapped_column(sa.Text)
    """The strategy's ``UpstreamProfile.logout`` (``id_token_hint``, ``sid``), encrypted."""
    created_at: Mapped[created_at]
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)

    @property
    def logout(self) -> dict[str, object]:
        return decrypt_json(self.logout_encrypted)

    @logout.setter
    def logout(self, value: dict[str, object]) -> None:
        self.logout_encrypted = encrypt_json(value)
