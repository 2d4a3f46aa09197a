"""The template loader chain: the request's theme -> its parent themes -> core templates.

``{% extends "layout.html" %}`` finds the most specific ``layout.html`` of the request's
theme chain; ``{% extends "core:login/password.html" %}`` reaches the core template a theme
overrides (and ``"<theme>:name"`` a given theme's own copy). The theme is chosen per request
(:func:`app.branding.context.current_theme_name`), so Jinja's compiled-template cache is
keyed by theme as well as by name: two organizations with two themes never share a page.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from flask import Flask
from jinja2 import BaseLoader
from jinja2 import Environment
from jinja2 import FileSystemLoader
from jinja2 import TemplateNotFound
from jinja2.utils import LRUCache

from app.branding.context import current_brand
from app.branding.context import current_theme_name
from app.branding.themes import BUILTIN_THEMES_DIR
from app.branding.themes import ThemeRegistry
from app.branding.themes import load_registry

CORE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CORE_PREFIX = "core"


class ThemeLoader(BaseLoader):
    """Finds a template in the current theme chain, then in the core templates."""

    def __init__(self, themes: ThemeRegistry, core_dir: Path = CORE_TEMPLATES) -> None:
        self.themes = themes
        self.core = FileSystemLoader(str(core_dir))
        self.theme_loaders = {
            name: FileSystemLoader(str(theme.templates_dir))
            for name, theme in themes.themes.items()
            if theme.templates_dir.is_dir()
        }

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, t.Callable[[], bool] | None]:
        prefix, sep, rest = template.partition(":")
        if sep:
            if prefix == CORE_PREFIX:
                return self.core.get_source(environment, rest)
            if prefix in self.themes:
                loader = self.theme_loaders.get(prefix)
                if loader is None:
                    raise TemplateNotFound(template)
                return loader.get_source(environment, rest)
            raise TemplateNotFound(template)
        for name in self.search_path():
            loader = self.theme_loaders.get(name)
            if loader is None:
                continue
            try:
                return loader.get_source(environment, template)
            except TemplateNotFound:
                continue
        return self.core.get_source(environment, template)

    def search_path(self) -> list[str]:
        """Theme names searched for this request, most specific first."""
        return [theme.name for theme in self.themes.chain(current_theme_name())]

    def list_templates(self) -> list[str]:
        names = set(self.core.list_templates())
        for loader in self.theme_loaders.values():
            names.update(loader.list_templates())
        return sorted(names)


class ThemedCache(LRUCache):
    """Jinja's template cache with the request's theme added to every key."""

    @staticmethod
    def _key(key: t.Any) -> t.Any:
        return (current_theme_name(), key)

    def __getitem__(self, key: t.Any) -> t.Any:
        return super().__getitem__(self._key(key))

    def __setitem__(self, key: t.Any, value: t.Any) -> None:
        super().__setitem__(self._key(key), value)

    def __contains__(self, key: t.Any) -> bool:
        return super().__contains__(self._key(key))

    def __delitem__(self, key: t.Any) -> None:
        super().__delitem__(self._key(key))

    def get(self, key: t.Any, default: t.Any = None) -> t.Any:
        try:
            return self[key]
        except KeyError:
            return default


def theme_folders(app: Flask) -> list[Path]:
    """Where themes come from: the builtin ``themes/``, ``Settings.themes_dir``, then the
    folders plugins name in ``extra_theme_dirs``."""
    settings = app.extensions["foyer.settings"]
    folders = [BUILTIN_THEMES_DIR, Path(settings.themes_dir)]
    for batch in app.extensions["foyer.pm"].hook.extra_theme_dirs():
        folders.extend(Path(folder) for folder in batch or ())
    return folders


def init_templates(app: Flask) -> None:
    """Load the theme registry (a broken theme stops start-up) and install the loader."""
    from app.branding.views import bp

    themes = load_registry(theme_folders(app))
    app.extensions["foyer.themes"] = themes
    loader = ThemeLoader(themes)
    app.jinja_loader = loader
    app.jinja_env.cache = ThemedCache(400)  # type: ignore[assignment]
    app.register_blueprint(bp)

    @app.context_processor
    def _brand_context() -> dict[str, t.Any]:
        brand = current_brand()
        return {
            "brand": brand,
            "theme": brand.theme,
            "templates_considered": _considered if app.debug else None,
        }

    def _considered() -> list[str]:
        return [f"{name}:" for name in loader.search_path()] + [f"{CORE_PREFIX}:"]
