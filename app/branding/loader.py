"""The template loader chain: the request's theme -> its parent themes -> core templates.

``{% extends "layout.html" %}`` finds the most specific ``layout.html`` of the request's
theme chain; ``{% extends "core:login/password.html" %}`` reaches the core template a theme
overrides (and ``"<theme>:name"`` a given theme's own copy). The theme is chosen per request
(:func:`app.branding.context.current_theme_name`), so Jinja's compiled-template cache is
keyed by theme as well as by name: two organizations with two themes never share a page.

A theme template that does not compile is skipped (logged once per file version): the page
is rendered with the parent theme's template, so a designer's typo never breaks sign-in.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import typing as t
from pathlib import Path

from flask import Flask
from jinja2 import BaseLoader
from jinja2 import Environment
from jinja2 import FileSystemLoader
from jinja2 import TemplateNotFound
from jinja2 import TemplateSyntaxError
from markupsafe import Markup

from app.branding.assets import AssetIndex
from app.branding.assets import live_reload
from app.branding.assets import theme_asset_url
from app.branding.assets import tree_signature
from app.branding.checks import soft_problems
from app.branding.context import BRANDS
from app.branding.context import BrandCache
from app.branding.context import current_brand
from app.branding.context import current_theme_name
from app.branding.themes import BUILTIN_THEMES_DIR
from app.branding.themes import ThemeError
from app.branding.themes import ThemeRegistry
from app.branding.themes import load_registry
from app.branding.translations import install_themed_domain
from app.branding.views import bp

log = logging.getLogger(__name__)

CORE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CORE_PREFIX = "core"


class ThemeLoader(BaseLoader):
    """Finds a template in the current theme chain, then in the core templates."""

    def __init__(self, themes: ThemeRegistry, core_dir: Path = CORE_TEMPLATES) -> None:
        self.core = FileSystemLoader(str(core_dir))
        self._compiles: dict[tuple[str, int], TemplateSyntaxError | None] = {}
        self._lock = threading.Lock()
        self.use(themes)

    def use(self, themes: ThemeRegistry) -> None:
        """Serve templates from ``themes`` (a reloaded registry in development)."""
        self.themes = themes

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, t.Callable[[], bool] | None]:
        prefix, sep, rest = template.partition(":")
        if sep:
            if prefix == CORE_PREFIX:
                return self.core.get_source(environment, rest)
            if prefix in self.themes:
                found = self._file(self.themes[prefix].templates_dir, rest)
                if found is None:
                    raise TemplateNotFound(template)
                return self._source(found, [])
            raise TemplateNotFound(template)
        considered: list[Path] = []
        for name in self.search_path():
            path = self._file(self.themes[name].templates_dir, template)
            if path is None:
                considered.append(self.themes[name].templates_dir / template)
                continue
            source = path.read_text(encoding="utf-8")
            if self.compile_error(environment, path, source, template) is None:
                return self._source(path, considered, source)
            considered.append(path)  # broken: fall back to the parent's
        source, filename, uptodate = self.core.get_source(environment, template)
        return source, filename, _also_unchanged(considered, uptodate)

    def compile_error(
        self, environment: Environment, path: Path, source: str, name: str
    ) -> TemplateSyntaxError | None:
        """The syntax error of a theme template, if any (checked once per file version)."""
        key = (str(path), _mtime(path))
        with self._lock:
            if key in self._compiles:
                return self._compiles[key]
        try:
            environment.parse(source, name, str(path))
            error = None
        except TemplateSyntaxError as exc:
            error = exc
            log.error(
                "%s:%s: template error, using the parent theme's template: %s",
                path,
                exc.lineno,
                exc.message,
            )
        with self._lock:
            self._compiles[key] = error
        return error

    def search_path(self) -> list[str]:
        """Theme names searched for this request, most specific first."""
        return [theme.name for theme in self.themes.chain(current_theme_name())]

    def list_templates(self) -> list[str]:
        names = set(self.core.list_templates())
        for theme in self.themes:
            if theme.templates_dir.is_dir():
                names.update(FileSystemLoader(str(theme.templates_dir)).list_templates())
        return sorted(names)

    @staticmethod
    def _file(folder: Path, template: str) -> Path | None:
        pieces = [piece for piece in template.split("/") if piece]
        if any(piece in (".", "..") or os.sep in piece for piece in pieces):
            raise TemplateNotFound(template)
        path = folder.joinpath(*pieces)
        return path if path.is_file() else None

    @staticmethod
    def _source(
        path: Path, considered: list[Path], source: str | None = None
    ) -> tuple[str, str, t.Callable[[], bool]]:
        if source is None:
            source = path.read_text(encoding="utf-8")
        return source, str(path), _also_unchanged([*considered, path], None)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _also_unchanged(
    paths: list[Path], uptodate: t.Callable[[], bool] | None
) -> t.Callable[[], bool]:
    """Up to date while the chosen file and every more specific candidate are unchanged
    (a fixed or newly added theme template shows on reload in development)."""
    stamps = [(path, _mtime(path)) for path in paths]

    def check() -> bool:
        if uptodate is not None and not uptodate():
            return False
        return all(_mtime(path) == stamp for path, stamp in stamps)

    return check


class ThemedCache:
    """Jinja's template cache with the request's theme added to every key.

    Jinja's own LRU cache moves a key to the back of a list on every hit, a scan of the
    list under a lock, several times per page; here a hit is one dict lookup. At most
    ``capacity`` compiled templates are kept (a page of every theme: far fewer than the
    default); past it the oldest is dropped. Cleared when the themes are reloaded.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._templates: dict[tuple[str, t.Any], t.Any] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(key: t.Any) -> tuple[str, t.Any]:
        return (current_theme_name(), key)

    def get(self, key: t.Any, default: t.Any = None) -> t.Any:
        return self._templates.get(self._key(key), default)

    def __getitem__(self, key: t.Any) -> t.Any:
        return self._templates[self._key(key)]

    def __setitem__(self, key: t.Any, value: t.Any) -> None:
        with self._lock:
            templates = self._templates
            while len(templates) >= self.capacity:
                del templates[next(iter(templates))]
            templates[self._key(key)] = value

    def __contains__(self, key: t.Any) -> bool:
        return self._key(key) in self._templates

    def __delitem__(self, key: t.Any) -> None:
        with self._lock:
            del self._templates[self._key(key)]

    def __len__(self) -> int:
        return len(self._templates)

    def clear(self) -> None:
        with self._lock:
            self._templates.clear()


def theme_folders(app: Flask) -> list[Path]:
    """Where themes come from: the builtin ``themes/``, ``Settings.themes_dir``, then the
    folders plugins name in ``extra_theme_dirs``."""
    settings = app.extensions["foyer.settings"]
    folders = [BUILTIN_THEMES_DIR, Path(settings.themes_dir)]
    for batch in app.extensions["foyer.pm"].hook.extra_theme_dirs():
        folders.extend(Path(folder) for folder in batch or ())
    return folders


def soft_breaks(value: str | None) -> Markup:
    """An email address or host name that wraps only after its ``@`` and its dots, never
    inside a part (templates: ``{{ identifier|soft_breaks }}``). Each part is a
    ``span.word`` the theme keeps whole unless it is wider than the line."""
    text = value or ""
    parts = re.findall(r"[^.@]*[.]|@[^.@]*[.]?|[^.@]+", text) or [text]
    return Markup("<wbr>").join(Markup('<span class="word">{}</span>').format(p) for p in parts)


def init_templates(app: Flask) -> None:
    """Load the theme registry (a broken manifest stops start-up), log template and wording
    problems, build the assets and install the loader and the themed wording."""
    folders = theme_folders(app)
    themes = load_registry(folders)
    for problem in soft_problems(themes):
        log.error("%s", problem)
    app.jinja_env.filters["soft_breaks"] = soft_breaks
    app.extensions["foyer.theme_folders"] = folders
    app.extensions["foyer.themes"] = themes
    app.extensions["foyer.assets"] = AssetIndex(themes)
    app.extensions["foyer.theme_signature"] = tree_signature(folders, themes)
    brands = BrandCache(float(app.extensions["foyer.settings"].cache_seconds))
    app.extensions[BRANDS] = brands
    app.extensions["foyer.rowcache"].dependents.append(brands.clear)
    if app.extensions["foyer.settings"].theme_development:
        app.config["TEMPLATES_AUTO_RELOAD"] = True
    loader = ThemeLoader(themes)
    app.jinja_loader = loader  # type: ignore[assignment]
    app.jinja_env.cache = ThemedCache(400)  # type: ignore[assignment]
    install_themed_domain(app)
    app.register_blueprint(bp)

    @app.before_request
    def _live_reload() -> None:
        if live_reload(app):
            reload_themes_if_changed(app)

    @app.context_processor
    def _brand_context() -> dict[str, t.Any]:
        brand = current_brand()
        return {
            "brand": brand,
            "theme": brand.theme,
            "theme_asset": lambda path: theme_asset_url(brand.theme.name, path),
            "templates_considered": _considered if app.debug else None,
        }

    def _considered() -> list[str]:
        return [f"{name}:" for name in loader.search_path()] + [f"{CORE_PREFIX}:"]


_reload_lock = threading.Lock()


def reload_themes_if_changed(app: Flask) -> None:
    """Development: re-read themes and rebuild assets when a theme file changed.

    A manifest broken while editing is logged and the previous themes are kept.
    """
    with _reload_lock:
        themes: ThemeRegistry = app.extensions["foyer.themes"]
        folders = app.extensions["foyer.theme_folders"]
        signature = tree_signature(folders, themes)
        if signature == app.extensions.get("foyer.theme_signature"):
            return
        try:
            fresh = load_registry(folders)
            index = AssetIndex(fresh)
        except (ThemeError, OSError) as exc:
            log.error("themes changed but cannot be reloaded; keeping the previous ones:\n%s", exc)
            app.extensions["foyer.theme_signature"] = signature
            # the theme preview shows it over the page (the previous themes still serve it)
            app.extensions["foyer.theme_reload_error"] = str(exc)
            return
        app.extensions.pop("foyer.theme_reload_error", None)
        app.extensions["foyer.themes"] = fresh
        app.extensions["foyer.assets"] = index
        app.extensions["foyer.theme_signature"] = tree_signature(folders, fresh)
        t.cast(ThemeLoader, app.jinja_loader).use(fresh)
        app.jinja_env.cache.clear()  # type: ignore[union-attr]
        app.extensions[BRANDS].clear()
