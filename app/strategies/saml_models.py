"""What SAML connections keep in the database: the service provider's keys, the assertions
already accepted (replay refused across every worker), and what upstream logout needs."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.db import Base
from app.db import created_at
from app.db import pk
from app.security.crypto import decrypt
from app.security.crypto import encrypt

KEY_NEXT = "next"
"""Published in the metadata (IdPs learn it) but not yet signing."""
KEY_CURRENT = "current"
"""Signs requests; published; decrypts."""
KEY_PREVIOUS = "previous"
"""Still published and still decrypts while IdPs move to the current key."""


class SamlSpKey(Base):
    """One signing and encryption key pair of a SAML connection's service provider.

    Kept apart from the connection's secrets so that ``foyer apply`` (which replaces the
    secrets it is given) never drops a key the customer's IdP trusts. The private key is
    encrypted at rest like connection secrets.
    """

    __tablename__ = "saml_sp_key"

    id: Mapped[pk]
    connection_id: Mapped[str] = mapped_column(
        sa.ForeignKey("connection.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(sa.String(16))
    """``next``, ``current`` or ``previous`` (see :data:`KEY_CURRENT`)."""
    key_encrypted: Mapped[str] = mapped_column(sa.Text)
    """The PEM private key, a Fernet token."""
    certificate: Mapped[str] = mapped_column(sa.Text)
    """The PEM self-signed certificate published in the metadata."""
    not_after: Mapped[dt.datetime]
    created_at: Mapped[created_at]

    @property
    def private_key(self) -> str:
        return decrypt(self.key_encrypted)

    @private_key.setter
    def private_key(self, pem: str) -> None:
        self.key_encrypted = encrypt(pem)


class SamlAssertionSeen(Base):
    """An assertion already accepted, remembered until it expires: the same assertion is
    never accepted twice, whichever worker receives it."""

    __tablename__ = "saml_assertion"

    connection_id: Mapped[str] = mapped_column(
        sa.ForeignKey("connection.id", ondelete="CASCADE"), primary_key=True
    )
    assertion_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """SHA-256 of the issuer and the assertion's ID."""
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class SamlSession(Base):
    """The upstream session behind a Foyer sign-in: the NameID and SessionIndex Single
    Logout names, both ways."""

    __tablename__ = "saml_session"

    id: Mapped[pk]
    connection_id: Mapped[str] = mapped_column(
        sa.ForeignKey("connection.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    sso_session_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("sso_session.id", ondelete="CASCADE"), default=None, index=True
    )
    """The Foyer session it started (None until the sign-in's last step)."""
    name_id: Mapped[str] = mapped_column(sa.Text)
    """The NameID element as received (XML), as a LogoutRequest must repeat it."""
    session_index: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    created_at: Mapped[created_at]
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
