"""The look of the current request: which theme, and the brand data pages show.

Branding is layered, the most specific layer winning: the theme's defaults, then the
tenant (``settings.branding`` and ``settings.support_*``), then the application being
signed in to (``client.settings["branding"]``), then the organization
(``organization.branding``). The theme is chosen the same way: the organization's, else the
application's, else the tenant's, else ``default``. So the template loader, the stylesheets
and the wording follow the organization a sign-in belongs to.

Branding set by admins is *data* (:mod:`app.branding.data`): cleaned again here, escaped
by the templates, never code.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import typing as t
from urllib.parse import urlencode

from flask import current_app
from flask import has_request_context
from flask import request
from flask import url_for

from app.branding.assets import asset_href
from app.branding.assets import asset_index
from app.branding.assets import live_reload
from app.branding.data import LINK_KEYS
from app.branding.data import clean_branding
from app.branding.data import safe_email as safe_email
from app.branding.data import safe_url as safe_url
from app.branding.pages import page_subject
from app.branding.pages import request_globals
from app.branding.themes import DEFAULT_THEME
from app.branding.themes import Theme
from app.branding.themes import ThemeRegistry

if t.TYPE_CHECKING:
    from app.clients.models import Client
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Brand:
    """What the layout shows for the current tenant, application or organization (a stable
    theme API: templates read these attributes)."""

    name: str
    """Display name in the header: the organization's, else the tenant's."""
    theme: Theme
    logo_url: str | None = None
    favicon_url: str | None = None
    support_email: str | None = None
    support_url: str | None = None
    privacy_url: str | None = None
    terms_url: str | None = None
    email_sender_name: str | None = None
    """Name on the From line of emails (default: the display name)."""
    email_reply_to: str | None = None
    colors: dict[str, str] = dataclasses.field(default_factory=dict)
    """Theme colors with tenant, application and organization overrides applied."""
    stylesheets: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()
    layout: str = "card"
    """``card`` or ``split`` (theme.toml ``[layout] style``)."""
    panel_image_url: str | None = None
    """Image of the brand panel of the split layout (None: the panel shows the logo)."""
    is_organization: bool = False
    """The page belongs to an organization (headings say "Sign in to <name>")."""

    @property
    def has_support(self) -> bool:
        return bool(self.support_email or self.support_url)

    @property
    def sender_name(self) -> str:
        return self.email_sender_name or self.name


def registry() -> ThemeRegistry:
    return t.cast(ThemeRegistry, current_app.extensions["foyer.themes"])


def current_tenant_or_none() -> Tenant | None:
    """The tenant already resolved for this request, if any (never aborts)."""
    domain = request_globals().get("tenant_domain") if has_request_context() else None
    return domain.tenant if domain is not None else None


def current_organization() -> Organization | None:
    """The organization this page is for (:func:`app.branding.pages.page_subject`)."""
    if not has_request_context():
        return None
    return page_subject().organization


def current_client() -> Client | None:
    """The application this page is for (:func:`app.branding.pages.page_subject`)."""
    if not has_request_context():
        return None
    return page_subject().client


def client_branding(client: Client | None) -> dict[str, t.Any]:
    settings = getattr(client, "settings", None)
    if not isinstance(settings, dict):
        return {}
    return clean_branding(settings.get("branding"), allow_theme=True)


def theme_name_for(
    tenant: Tenant | None, organization: Organization | None, client: Client | None = None
) -> str:
    """The organization's theme, else the application's, else the tenant's ``theme``
    setting, else ``default``.

    A theme named in data that is no longer installed falls back to the next layer
    (logged), so removing a folder never takes sign-in down; ``foyer apply`` refuses such
    names up front.
    """
    themes = registry()
    for name in (
        organization.theme if organization is not None else None,
        client_branding(client).get("theme"),
        (tenant.settings or {}).get("theme") if tenant is not None else None,
    ):
        if not name:
            continue
        if name in themes:
            return t.cast(str, name)
        log.warning("theme %r is not installed; using the next choice", name)
    return DEFAULT_THEME


def current_theme_name() -> str:
    """The theme of this request (chosen once per request, ``default`` outside requests)."""
    if not has_request_context():
        return DEFAULT_THEME
    subject = page_subject()
    if subject.theme_name is None:
        subject.theme_name = theme_name_for(
            current_tenant_or_none(), subject.organization, subject.client
        )
    return subject.theme_name


def current_brand() -> Brand:
    """The brand of this request, built once per request, or taken from the worker's
    :class:`BrandCache`."""
    if not has_request_context():
        return build_brand(current_tenant_or_none(), None, current_theme_name(), None)
    subject = page_subject()
    if subject.brand is None:
        tenant, organization = current_tenant_or_none(), subject.organization
        client = subject.client
        theme_name = current_theme_name()
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        cache: BrandCache | None = app.extensions.get(BRANDS)
        if cache is None or live_reload(app):  # a theme being edited: always fresh
            subject.brand = build_brand(tenant, organization, theme_name, client)
        else:
            key = (
                tenant.id if tenant is not None else None,
                organization.id if organization is not None else None,
                client.id if client is not None else None,
                theme_name,
                request.script_root,  # the asset URLs are under it
            )
            subject.brand = cache.get(
                key, lambda: build_brand(tenant, organization, theme_name, client)
            )
    return subject.brand


BRANDS = "foyer.brands"
"""``app.extensions`` key of the worker's :class:`BrandCache`."""


class BrandCache:
    """Brands built for (tenant, organization, application, theme, path prefix), each
    trusted for ``ttl`` seconds.

    A brand is derived from rows the worker's row cache (:mod:`app.rowcache`) already
    trusts for ``cache_seconds`` and from the theme registry, and building one costs as
    much as the rest of rendering a page's layout. So it lives as long as those rows: the
    same ``ttl``, cleared with the row cache (a change to a tenant, organization or client
    made through this process) and when the themes are reloaded. At most
    :data:`MAX_ENTRIES` brands are kept; a full cache is dropped whole. Brands do not
    depend on the language (wording is looked up when the page renders).
    """

    MAX_ENTRIES = 2_000

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._brands: dict[t.Hashable, tuple[Brand, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: t.Hashable, build: t.Callable[[], Brand]) -> Brand:
        if self.ttl <= 0:
            return build()
        entry = self._brands.get(key)
        if entry is not None and time.monotonic() - entry[1] < self.ttl:
            return entry[0]
        brand = build()
        with self._lock:
            if len(self._brands) >= self.MAX_ENTRIES:
                self._brands.clear()
            self._brands[key] = (brand, time.monotonic())
        return brand

    def clear(self) -> None:
        with self._lock:
            self._brands.clear()


def branding_layers(
    tenant: Tenant | None, organization: Organization | None, client: Client | None = None
) -> dict[str, t.Any]:
    """Tenant, then application, then organization branding, cleaned and merged (colors
    merged key by key)."""
    layers: list[dict[str, t.Any]] = []
    if tenant is not None:
        settings = tenant.settings or {}
        # support contacts may sit at the top level of tenant settings or under "branding"
        layers.append(
            clean_branding(
                {k: settings[k] for k in ("support_email", "support_url") if k in settings}
            )
        )
        layers.append(clean_branding(settings.get("branding")))
    layers.append({k: v for k, v in client_branding(client).items() if k != "theme"})
    if organization is not None:
        layers.append(clean_branding(organization.branding))
    data: dict[str, t.Any] = {"colors": {}}
    for layer in layers:
        data["colors"].update(layer.get("colors", {}))
        data.update({k: v for k, v in layer.items() if k != "colors"})
    return data


def build_brand(
    tenant: Tenant | None,
    organization: Organization | None,
    theme_name: str,
    client: Client | None = None,
) -> Brand:
    """Merge theme defaults and the branding layers (most specific wins)."""

    themes = registry()
    theme = themes[theme_name]
    data = branding_layers(tenant, organization, client)
    colors = {**themes.colors(theme_name), **data["colors"]}

    name = tenant.display_name if tenant is not None else ""
    if organization is not None:
        name = organization.display_name
    name = data.get("display_name") or name

    index = asset_index()

    def theme_file(found: tuple[Theme, str] | None) -> str | None:
        if found is None:
            return None
        key = index.static_key(theme_name, found[1])
        return asset_href(key) if key else None

    bundles = index.bundles.get(theme_name)
    stylesheets = [asset_href(bundles.css)] if bundles and bundles.css else []
    if data["colors"]:  # the theme's own colors are in its bundle
        stylesheets.append(colors_url(data["colors"], colors.get("surface")))
    layout = themes.layout(theme_name)
    return Brand(
        name=name,
        theme=theme,
        logo_url=data.get("logo_url") or theme_file(themes.first(theme_name, "logo")),
        favicon_url=theme_file(themes.first(theme_name, "favicon")),
        support_email=data.get("support_email"),
        email_sender_name=data.get("email_sender_name"),
        email_reply_to=data.get("email_reply_to"),
        colors=colors,
        stylesheets=tuple(stylesheets),
        scripts=(asset_href(bundles.js),) if bundles and bundles.js else (),
        layout=layout["style"],
        panel_image_url=theme_file(layout["panel_image"]),
        is_organization=organization is not None,
        **{key: data.get(key) for key in LINK_KEYS},
    )


def colors_url(colors: t.Mapping[str, str], surface: str | None = None) -> str:
    """URL of the stylesheet that sets branding-data colors as CSS custom properties, over
    the theme's (it is linked after the theme's bundle).

    The colors travel in the URL (validated again when served), so the stylesheet is the
    same for every tenant with the same colors and can be cached for good. ``surface`` is
    the page's card color, used only to keep links readable.
    """
    pairs = sorted((key, value.lstrip("#")) for key, value in colors.items())
    if surface and "surface" not in colors:
        pairs.append(("on_surface", surface.lstrip("#")))
    query = urlencode(pairs)
    path = url_for("branding.colors") if has_request_context() else "/branding/colors.css"
    return f"{path}?{query}"
