"""The look of the current request: which theme, and the brand data pages show.

The theme is chosen per request (organization's theme, else the tenant's ``theme`` setting,
else ``default``), so the template loader and the stylesheet links follow the organization
a sign-in belongs to. Branding set by admins (display name, logo URL, colors, support
contacts, legal links) is *data*: validated here, escaped by the templates, never code.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import typing as t
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import current_app
from flask import g
from flask import has_request_context
from flask import url_for

from app.branding.themes import DEFAULT_THEME
from app.branding.themes import Theme
from app.branding.themes import ThemeRegistry
from app.branding.themes import validate_colors

if t.TYPE_CHECKING:
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

log = logging.getLogger(__name__)

EMAIL = re.compile(r"^[^@\s<>\"'(),;:\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
LINK_KEYS = ("support_url", "privacy_url", "terms_url")


@dataclasses.dataclass(frozen=True)
class Brand:
    """What the layout shows for the current tenant or organization (a stable theme API)."""

    name: str
    """Display name in the header: the organization's, else the tenant's."""
    theme: Theme
    logo_url: str | None = None
    favicon_url: str | None = None
    support_email: str | None = None
    support_url: str | None = None
    privacy_url: str | None = None
    terms_url: str | None = None
    colors: dict[str, str] = dataclasses.field(default_factory=dict)
    """Theme colors with tenant and organization overrides applied."""
    stylesheets: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()

    @property
    def has_support(self) -> bool:
        return bool(self.support_email or self.support_url)


def registry() -> ThemeRegistry:
    return t.cast(ThemeRegistry, current_app.extensions["foyer.themes"])


def current_tenant_or_none() -> Tenant | None:
    """The tenant already resolved for this request, if any (never aborts)."""
    domain = g.get("tenant_domain") if has_request_context() else None
    return domain.tenant if domain is not None else None


def current_organization() -> Organization | None:
    """The organization this page is for: set by the view (``g.organization``) or the host."""
    if not has_request_context():
        return None
    if "organization" in g:
        return t.cast("Organization | None", g.organization)
    domain = g.get("tenant_domain")
    return domain.organization if domain is not None else None


def theme_name_for(tenant: Tenant | None, organization: Organization | None) -> str:
    """The organization's theme, else the tenant's ``theme`` setting, else ``default``.

    A theme that is no longer installed falls back to ``default`` (logged), so removing a
    folder never takes sign-in down.
    """
    themes = registry()
    for name in (
        organization.theme if organization is not None else None,
        (tenant.settings or {}).get("theme") if tenant is not None else None,
    ):
        if not name:
            continue
        if name in themes:
            return t.cast(str, name)
        log.warning("theme %r is not installed; using %r", name, DEFAULT_THEME)
    return DEFAULT_THEME


def current_theme_name() -> str:
    """The theme of this request (chosen once per request, ``default`` outside requests)."""
    if not has_request_context():
        return DEFAULT_THEME
    name = g.get("foyer_theme")
    if name is None:
        name = theme_name_for(current_tenant_or_none(), current_organization())
        g.foyer_theme = name
    return t.cast(str, name)


def current_brand() -> Brand:
    """The brand of this request, built once per request."""
    if has_request_context() and "foyer_brand" in g:
        return t.cast(Brand, g.foyer_brand)
    brand = build_brand(current_tenant_or_none(), current_organization(), current_theme_name())
    if has_request_context():
        g.foyer_brand = brand
    return brand


def build_brand(tenant: Tenant | None, organization: Organization | None, theme_name: str) -> Brand:
    """Merge theme defaults, tenant branding and organization branding (most specific wins)."""
    themes = registry()
    theme = themes[theme_name]
    data: dict[str, t.Any] = {}
    colors = dict(themes.colors(theme_name))
    sources: list[dict[str, t.Any]] = []
    if tenant is not None:
        settings = tenant.settings or {}
        # support contacts may sit at the top level of tenant settings or under "branding"
        sources.append({k: settings[k] for k in ("support_email", "support_url") if k in settings})
        sources.append(settings.get("branding") or {})
    if organization is not None:
        sources.append(organization.branding or {})
    for source in sources:
        if not isinstance(source, dict):
            continue
        data.update({k: v for k, v in source.items() if k != "colors"})
        colors.update(validate_colors(source.get("colors", {}), "branding", strict=False))

    name = tenant.display_name if tenant is not None else ""
    if organization is not None:
        name = organization.display_name
    display_name = data.get("display_name")
    if isinstance(display_name, str) and display_name.strip():
        name = display_name.strip()[:120]

    logo = safe_url(data.get("logo_url"))
    if logo is None:
        found = themes.first(theme_name, "logo")
        logo = asset_url(*found) if found else None
    favicon = themes.first(theme_name, "favicon")
    return Brand(
        name=name,
        theme=theme,
        logo_url=logo,
        favicon_url=asset_url(*favicon) if favicon else None,
        support_email=safe_email(data.get("support_email")),
        colors=colors,
        stylesheets=tuple(
            [asset_url(owner, path) for owner, path in themes.styles(theme_name)]
            + ([colors_url(colors)] if colors else [])
        ),
        scripts=tuple(asset_url(owner, path) for owner, path in themes.scripts(theme_name)),
        **{key: safe_url(data.get(key)) for key in LINK_KEYS},
    )


def asset_url(theme: Theme, path: str) -> str:
    """URL of a theme's static file: the CDN when ``asset_base_url`` is set, else Foyer."""
    from app.branding.views import asset_version

    base = current_app.extensions["foyer.settings"].asset_base_url.rstrip("/")
    version = asset_version(theme, path)
    if base:
        return f"{base}/{theme.name}/{path}?v={version}"
    if not has_request_context():  # emails and commands: no request to build a URL from
        return f"/assets/{theme.name}/{path}?v={version}"
    return url_for("branding.asset", theme=theme.name, filename=path, v=version)


def colors_url(colors: t.Mapping[str, str]) -> str:
    """URL of the stylesheet that sets the brand colors as CSS custom properties.

    The colors travel in the URL (validated again when served), so the stylesheet is the
    same for every tenant with the same colors and can be cached for good.
    """
    query = urlencode(sorted((key, value.lstrip("#")) for key, value in colors.items()))
    path = url_for("branding.colors") if has_request_context() else "/branding/colors.css"
    return f"{path}?{query}"


def safe_url(value: object) -> str | None:
    """An admin-provided link or image URL, kept only if it is plain ``https://``."""
    if not isinstance(value, str) or len(value) > 2048:
        return None
    value = value.strip()
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        return None
    return value


def safe_email(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 320:
        return None
    value = value.strip()
    return value if EMAIL.match(value) else None
