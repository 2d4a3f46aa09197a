"""The theme registry: drop-in folders with a ``theme.toml``, templates and static files.

A theme inherits everything it does not override from its parent (``default`` unless it
names another); only ``default`` has no parent. Styles and scripts listed in ``theme.toml``
*add to* the parent's. A broken manifest, an unknown parent or a cycle stops start-up with
a message naming the theme, so a typo never surfaces as a half-styled login page.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing as t
from pathlib import Path

DEFAULT_THEME = "default"
BUILTIN_THEMES_DIR = Path(__file__).resolve().parent.parent.parent / "themes"
"""The themes shipped with Foyer (``default``); always loaded, whatever ``themes_dir`` says."""

THEME_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$")
COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
ASSET_PATH = re.compile(r"^(?!/)(?!.*\.\.)[A-Za-z0-9_./-]+$")

COLOR_KEYS = frozenset(
    {"primary", "primary_hover", "background", "surface", "text", "muted", "border",
     "danger", "focus"}
)
"""Colors a theme or an organization's branding may set (CSS ``--foyer-<key>``)."""

MANIFEST_KEYS = frozenset(
    {"label", "description", "parent", "styles", "scripts", "colors", "logo", "favicon"}
)


class ThemeError(ValueError):
    """A theme folder or manifest is invalid; raised at start-up."""


@dataclasses.dataclass(frozen=True)
class Theme:
    """One theme folder, as read from its manifest."""

    name: str
    path: Path
    label: str
    parent: str | None
    styles: tuple[str, ...] = ()
    """This theme's own stylesheets (under ``static/``); see :meth:`ThemeRegistry.styles`."""
    scripts: tuple[str, ...] = ()
    colors: dict[str, str] = dataclasses.field(default_factory=dict)
    logo: str | None = None
    favicon: str | None = None
    description: str = ""

    @property
    def templates_dir(self) -> Path:
        return self.path / "templates"

    @property
    def static_dir(self) -> Path:
        return self.path / "static"


class ThemeRegistry:
    """Every known theme by name, with the inheritance chain of each."""

    def __init__(self, themes: t.Mapping[str, Theme]) -> None:
        self.themes = dict(themes)
        if DEFAULT_THEME not in self.themes:
            raise ThemeError("the default theme is missing (themes/default/theme.toml)")
        self._chains = {name: self._build_chain(name) for name in self.themes}

    def __contains__(self, name: object) -> bool:
        return name in self.themes

    def __getitem__(self, name: str) -> Theme:
        return self.themes[name]

    def get(self, name: str | None) -> Theme | None:
        return self.themes.get(name) if name else None

    def chain(self, name: str) -> tuple[Theme, ...]:
        """The theme and its ancestors, most specific first (``acme``, ..., ``default``)."""
        return self._chains[name]

    def styles(self, name: str) -> list[tuple[Theme, str]]:
        """Stylesheets of the whole chain, ancestors first so a child's rules win."""
        return [(theme, style) for theme in reversed(self.chain(name)) for style in theme.styles]

    def scripts(self, name: str) -> list[tuple[Theme, str]]:
        return [(theme, script) for theme in reversed(self.chain(name)) for script in theme.scripts]

    def colors(self, name: str) -> dict[str, str]:
        """Colors of the chain merged, the most specific theme winning."""
        merged: dict[str, str] = {}
        for theme in reversed(self.chain(name)):
            merged.update(theme.colors)
        return merged

    def first(self, name: str, attribute: str) -> tuple[Theme, str] | None:
        """The nearest theme in the chain that sets ``attribute`` (``logo``, ``favicon``)."""
        for theme in self.chain(name):
            value = getattr(theme, attribute)
            if value:
                return theme, value
        return None

    def _build_chain(self, name: str) -> tuple[Theme, ...]:
        chain: list[Theme] = []
        seen: set[str] = set()
        current: str | None = name
        while current is not None:
            if current in seen:
                raise ThemeError(f"theme {name!r}: parent cycle through {current!r}")
            seen.add(current)
            theme = self.themes.get(current)
            if theme is None:
                raise ThemeError(f"theme {chain[-1].name!r}: unknown parent theme {current!r}")
            chain.append(theme)
            current = theme.parent
        return tuple(chain)


def load_registry(folders: t.Iterable[Path]) -> ThemeRegistry:
    """Read every theme folder (a directory holding ``theme.toml``) under ``folders``.

    The same folder reached twice is read once; two different folders with one name are an
    error, so which theme serves a page is never a matter of scan order.
    """
    themes: dict[str, Theme] = {}
    seen_dirs: set[Path] = set()
    for folder in folders:
        folder = folder.resolve()
        if folder in seen_dirs or not folder.is_dir():
            continue
        seen_dirs.add(folder)
        for path in sorted(folder.iterdir()):
            if not (path / "theme.toml").is_file():
                continue
            theme = read_theme(path)
            other = themes.get(theme.name)
            if other is not None and other.path != theme.path:
                raise ThemeError(f"two themes named {theme.name!r}: {other.path} and {theme.path}")
            themes[theme.name] = theme
    return ThemeRegistry(themes)


def read_theme(path: Path) -> Theme:
    """Read and validate ``<path>/theme.toml``; the folder name is the theme name."""
    name = path.name
    if not THEME_NAME.match(name):
        raise ThemeError(f"theme folder {path}: use lower-case letters, digits, - and _")
    try:
        with (path / "theme.toml").open("rb") as fh:
            manifest = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ThemeError(f"theme {name!r}: cannot read theme.toml: {exc}") from exc
    unknown = set(manifest) - MANIFEST_KEYS
    if unknown:
        keys = ", ".join(sorted(unknown))
        raise ThemeError(f"theme {name!r}: unknown keys in theme.toml: {keys}")
    default_parent = None if name == DEFAULT_THEME else DEFAULT_THEME
    parent = manifest.get("parent", default_parent)
    if name == DEFAULT_THEME and parent is not None:
        raise ThemeError("the default theme cannot have a parent")
    if parent is not None and (not isinstance(parent, str) or not THEME_NAME.match(parent)):
        raise ThemeError(f"theme {name!r}: parent must be a theme name")
    return Theme(
        name=name,
        path=path.resolve(),
        label=_string(manifest, "label", name, name),
        description=_string(manifest, "description", "", name),
        parent=parent,
        styles=_assets(manifest, "styles", path),
        scripts=_assets(manifest, "scripts", path),
        colors=validate_colors(manifest.get("colors", {}), f"theme {name!r}"),
        logo=_asset(manifest.get("logo"), "logo", path),
        favicon=_asset(manifest.get("favicon"), "favicon", path),
    )


def validate_colors(value: object, where: str, strict: bool = True) -> dict[str, str]:
    """Keep known color keys holding ``#rgb``/``#rrggbb`` values (CSS is built from them).

    :param strict: raise on a bad entry (theme manifests); otherwise drop it (admin data,
        which is validated when saved and must never break a page).
    """
    if not isinstance(value, dict):
        if strict:
            raise ThemeError(f"{where}: colors must be a table")
        return {}
    colors: dict[str, str] = {}
    for key, color in value.items():
        if key in COLOR_KEYS and isinstance(color, str) and COLOR.match(color):
            colors[key] = color.lower()
        elif strict:
            raise ThemeError(f"{where}: color {key!r} must be one of {sorted(COLOR_KEYS)} "
                             "with a #rrggbb value")
    return colors


def _string(manifest: dict[str, t.Any], key: str, default: str, name: str) -> str:
    value = manifest.get(key, default)
    if not isinstance(value, str):
        raise ThemeError(f"theme {name!r}: {key} must be a string")
    return value


def _assets(manifest: dict[str, t.Any], key: str, path: Path) -> tuple[str, ...]:
    value = manifest.get(key, [])
    if not isinstance(value, list):
        raise ThemeError(f"theme {path.name!r}: {key} must be a list of paths under static/")
    return tuple(t.cast(str, _asset(item, key, path)) for item in value)


def _asset(value: object, key: str, path: Path) -> str | None:
    """A file of the theme's own ``static/`` folder, which must exist."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not ASSET_PATH.match(value):
        raise ThemeError(f"theme {path.name!r}: {key} must be a relative path under static/")
    if not (path / "static" / value).is_file():
        raise ThemeError(f"theme {path.name!r}: {key} names a missing file static/{value}")
    return value
