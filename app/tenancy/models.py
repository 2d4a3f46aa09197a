"""Tenants and the hostnames that select them."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.db import Base
from app.db import JSONDict
from app.db import created_at
from app.db import pk

if t.TYPE_CHECKING:
    from app.orgs.models import Organization


class Tenant(Base):
    """An isolated space with its own issuer, keys, users, clients and organizations."""

    __tablename__ = "tenant"

    id: Mapped[pk]
    name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    """Slug used by the CLI and config files."""
    display_name: Mapped[str]
    default_locale: Mapped[str] = mapped_column(sa.String(16), default="en")
    settings: Mapped[JSONDict] = mapped_column(default=dict)
    """Free-form tenant settings: enabled plugins, branding, support contacts, HRD order."""
    created_at: Mapped[created_at]

    domains: Mapped[list[TenantDomain]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", order_by="TenantDomain.hostname"
    )

    @property
    def primary_domain(self) -> TenantDomain | None:
        for d in self.domains:
            if d.is_primary:
                return d
        return self.domains[0] if self.domains else None

    @property
    def base_url(self) -> str:
        """Canonical URL of the tenant, for links in emails (never taken from a request)."""
        d = self.primary_domain
        if d is None:
            raise LookupError(f"tenant {self.name} has no domain")
        return d.base_url


class TenantDomain(Base):
    """A hostname served for a tenant; with an organization it is that org's vanity host."""

    __tablename__ = "tenant_domain"

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    hostname: Mapped[str] = mapped_column(sa.String(253), unique=True)
    """Lower-case host name without port (``login.example.com``)."""
    port: Mapped[int | None] = mapped_column(default=None)
    """Port used in canonical URLs; None for the scheme's default."""
    scheme: Mapped[str] = mapped_column(sa.String(5), default="https")
    is_primary: Mapped[bool] = mapped_column(default=False)
    organization_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("organization.id", ondelete="CASCADE"), default=None
    )

    tenant: Mapped[Tenant] = relationship(back_populates="domains")
    organization: Mapped[Organization | None] = relationship()

    @property
    def base_url(self) -> str:
        default_port = {"https": 443, "http": 80}[self.scheme]
        port = f":{self.port}" if self.port and self.port != default_port else ""
        return f"{self.scheme}://{self.hostname}{port}"
