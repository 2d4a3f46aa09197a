"""The theme registry: drop-in folders with a ``theme.toml``, templates, static files and
wording overrides.

A theme inherits everything it does not override from its parent (``default`` unless it
names another); only ``default`` has no parent, and chains may be as deep as needed
(organization theme -> brand theme -> default). Styles and scripts listed in ``theme.toml``
*add to* the parent's, never replace them.

What stops start-up and what falls back (the rule, also in docs/themes.md):

- a broken manifest, an unknown parent, a parent cycle or two themes with one name stop
  start-up (:class:`ThemeError` listing every problem): these are mistakes in a folder the
  operator just deployed, and a half-styled login page would hide them;
- a template that does not compile or a wording file that does not parse is *logged* at
  start-up and reported by ``foyer themes check``; at run time the page is rendered with
  the parent theme's template (or the core wording), so a designer's typo never takes
  sign-in down.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing as t
from pathlib import Path

from app.clikit import did_you_mean
from app.config import shipped_path

DEFAULT_THEME = "default"
BUILTIN_THEMES_DIR = shipped_path("themes")
"""The themes shipped with Foyer (``default`` and the examples); always loaded."""

THEME_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$")
COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
ASSET_PATH = re.compile(r"^(?!/)(?!.*\.\.)[A-Za-z0-9_./-]+$")
FONT_STACK = re.compile(r"""^[A-Za-z0-9 ,'"._-]{1,300}$""")

COLOR_KEYS = frozenset(
    {
        "primary",
        "primary_hover",
        "background",
        "surface",
        "text",
        "muted",
        "border",
        "danger",
        "focus",
    }
)
"""Colors a theme or an organization's branding may set (CSS ``--foyer-<key>``)."""

FONT_KEYS = frozenset({"body", "heading"})
"""Font stacks a theme may set (CSS ``--foyer-font`` and ``--foyer-heading-font``)."""

LAYOUT_STYLES = ("card", "split")
"""``card``: a centered card; ``split``: the card beside a brand panel (image or color)."""

MANIFEST_KEYS = frozenset(
    {
        "label",
        "description",
        "parent",
        "styles",
        "scripts",
        "colors",
        "fonts",
        "logo",
        "favicon",
        "layout",
    }
)
LAYOUT_KEYS = frozenset({"style", "panel_image"})


class ThemeError(ValueError):
    """One or more themes are unusable; raised at start-up with every problem listed."""

    def __init__(self, problems: t.Sequence[ThemeProblem] | str) -> None:
        if isinstance(problems, str):
            problems = [ThemeProblem("", None, None, problems)]
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclasses.dataclass(frozen=True)
class ThemeProblem:
    """Something wrong in a theme folder, with the file and line to look at."""

    theme: str
    file: Path | None
    line: int | None
    message: str

    def __str__(self) -> str:
        where = str(self.file) if self.file else ""
        if where and self.line:
            where += f":{self.line}"
        prefix = f"{where}: " if where else ""
        about = f"theme {self.theme!r}: " if self.theme else ""
        return f"{prefix}{about}{self.message}"


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
    fonts: dict[str, str] = dataclasses.field(default_factory=dict)
    logo: str | None = None
    favicon: str | None = None
    layout: dict[str, str] = dataclasses.field(default_factory=dict)
    """``style`` (card or split) and ``panel_image``, as set by this theme only."""
    description: str = ""

    @property
    def templates_dir(self) -> Path:
        return self.path / "templates"

    @property
    def static_dir(self) -> Path:
        return self.path / "static"

    @property
    def translations_dir(self) -> Path:
        return self.path / "translations"

    @property
    def manifest(self) -> Path:
        return self.path / "theme.toml"


class ThemeRegistry:
    """Every known theme by name, with the inheritance chain of each."""

    def __init__(self, themes: t.Mapping[str, Theme]) -> None:
        self.themes = dict(themes)
        problems = chain_problems(self.themes)
        if problems:
            raise ThemeError(problems)
        self._chains = {name: self._build_chain(name) for name in self.themes}

    def __contains__(self, name: object) -> bool:
        return name in self.themes

    def __getitem__(self, name: str) -> Theme:
        return self.themes[name]

    def __iter__(self) -> t.Iterator[Theme]:
        return iter(sorted(self.themes.values(), key=lambda theme: theme.name))

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
        return self._merged(name, "colors")

    def fonts(self, name: str) -> dict[str, str]:
        return self._merged(name, "fonts")

    def layout(self, name: str) -> dict[str, t.Any]:
        """Layout options of the chain merged; ``panel_image`` as ``(theme, path)``."""
        merged: dict[str, t.Any] = {"style": "card", "panel_image": None}
        for theme in reversed(self.chain(name)):
            if "style" in theme.layout:
                merged["style"] = theme.layout["style"]
            if theme.layout.get("panel_image"):
                merged["panel_image"] = (theme, theme.layout["panel_image"])
        return merged

    def first(self, name: str, attribute: str) -> tuple[Theme, str] | None:
        """The nearest theme in the chain that sets ``attribute`` (``logo``, ``favicon``)."""
        for theme in self.chain(name):
            value = getattr(theme, attribute)
            if value:
                return theme, value
        return None

    def find_static(self, name: str, path: str) -> tuple[Theme, Path] | None:
        """The file ``static/<path>`` of the nearest theme in the chain that has it."""
        if not ASSET_PATH.match(path):
            return None
        for theme in self.chain(name):
            full = theme.static_dir / path
            if full.is_file():
                return theme, full
        return None

    def _merged(self, name: str, attribute: str) -> dict[str, str]:
        merged: dict[str, str] = {}
        for theme in reversed(self.chain(name)):
            merged.update(getattr(theme, attribute))
        return merged

    def _build_chain(self, name: str) -> tuple[Theme, ...]:
        chain: list[Theme] = []
        current: str | None = name
        while current is not None:
            theme = self.themes[current]
            chain.append(theme)
            current = theme.parent
        return tuple(chain)


def chain_problems(themes: t.Mapping[str, Theme]) -> list[ThemeProblem]:
    """Unknown parents and parent cycles, each reported once on the theme that causes it."""
    problems: list[ThemeProblem] = []
    if DEFAULT_THEME not in themes:
        problems.append(
            ThemeProblem(
                DEFAULT_THEME,
                None,
                None,
                "the default theme is missing (themes/default/theme.toml)",
            )
        )
    reported: set[str] = set()
    for name in sorted(themes):
        seen: list[str] = []
        current: str | None = name
        while current is not None:
            if current in seen:
                cycle = seen[seen.index(current) :] + [current]
                if not reported & set(cycle):
                    theme = themes[current]
                    problems.append(
                        ThemeProblem(
                            current,
                            theme.manifest,
                            _line_of(theme.manifest, "parent"),
                            "parent cycle: " + " -> ".join(cycle),
                        )
                    )
                reported.update(cycle)
                break
            seen.append(current)
            found = themes.get(current)
            if found is None:
                child = themes[seen[-2]]
                if child.name not in reported:
                    problems.append(
                        ThemeProblem(
                            child.name,
                            child.manifest,
                            _line_of(child.manifest, "parent"),
                            f"unknown parent theme {current!r}"
                            + did_you_mean(current, [n for n in themes if n != child.name]),
                        )
                    )
                    reported.add(child.name)
                break
            current = found.parent
    return problems


def scan_themes(folders: t.Iterable[Path]) -> tuple[dict[str, Theme], list[ThemeProblem]]:
    """Read every theme folder (a directory holding ``theme.toml``) under ``folders``.

    Returns the themes whose manifest is valid and every problem found. The same folder
    reached twice is read once; two different folders with one name are a problem, so which
    theme serves a page is never a matter of scan order.
    """
    themes: dict[str, Theme] = {}
    problems: list[ThemeProblem] = []
    seen_dirs: set[Path] = set()
    for folder in folders:
        folder = Path(folder).resolve()
        if folder in seen_dirs or not folder.is_dir():
            continue
        seen_dirs.add(folder)
        for path in sorted(folder.iterdir()):
            if not (path / "theme.toml").is_file():
                continue
            try:
                theme = read_theme(path)
            except ThemeError as exc:
                problems.extend(exc.problems)
                continue
            other = themes.get(theme.name)
            if other is not None and other.path != theme.path:
                problems.append(
                    ThemeProblem(
                        theme.name,
                        theme.manifest,
                        None,
                        f"two themes named {theme.name!r}: {other.path} and {theme.path}",
                    )
                )
                continue
            themes[theme.name] = theme
    return themes, problems


def load_registry(folders: t.Iterable[Path]) -> ThemeRegistry:
    """The registry of every theme under ``folders``; raises :class:`ThemeError` listing
    every manifest and inheritance problem (start-up stops on them)."""
    themes, problems = scan_themes(folders)
    problems += chain_problems(themes)
    if problems:
        raise ThemeError(problems)
    return ThemeRegistry(themes)


def read_theme(path: Path) -> Theme:
    """Read and validate ``<path>/theme.toml``; the folder name is the theme name."""
    name = path.name
    manifest_file = (path / "theme.toml").resolve()

    def fail(message: str, key: str | None = None) -> t.NoReturn:
        line = _line_of(manifest_file, key) if key else None
        raise ThemeError([ThemeProblem(name, manifest_file, line, message)])

    if not THEME_NAME.match(name):
        fail(f"folder name {name!r}: use lower-case letters, digits, - and _")
    try:
        with manifest_file.open("rb") as fh:
            manifest = tomllib.load(fh)
    except OSError as exc:
        fail(f"cannot read theme.toml: {exc}")
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise ThemeError(
            [
                ThemeProblem(
                    name,
                    manifest_file,
                    int(found.group(1)) if found else None,
                    f"cannot read theme.toml: {exc}",
                )
            ]
        ) from exc
    problems: list[ThemeProblem] = []

    def problem(message: str, key: str | None) -> None:
        line = _line_of(manifest_file, key) if key else None
        problems.append(ThemeProblem(name, manifest_file, line, message))

    def part(read: t.Callable[[], t.Any], default: t.Any) -> t.Any:
        """One part of the manifest; its mistakes are kept and the others still read."""
        try:
            return read()
        except _ManifestError as exc:
            for message, key in exc.found:
                problem(message, key)
            return default

    unknown = set(manifest) - MANIFEST_KEYS
    for key in sorted(unknown):
        problem(
            f"unknown key in theme.toml: {key!r}"
            + (did_you_mean(key, MANIFEST_KEYS) or f" (known: {', '.join(sorted(MANIFEST_KEYS))})"),
            key,
        )
    default_parent = None if name == DEFAULT_THEME else DEFAULT_THEME
    parent = manifest.get("parent", default_parent)
    if name == DEFAULT_THEME and parent is not None:
        problem("the default theme cannot have a parent", "parent")
    elif parent is not None and (not isinstance(parent, str) or not THEME_NAME.match(parent)):
        problem("parent must be a theme name", "parent")
    theme = Theme(
        name=name,
        path=path.resolve(),
        label=part(lambda: _string(manifest, "label", name), name),
        description=part(lambda: _string(manifest, "description", ""), ""),
        parent=parent if isinstance(parent, str) else default_parent,
        styles=part(lambda: _assets(manifest, "styles", path), ()),
        scripts=part(lambda: _assets(manifest, "scripts", path), ()),
        colors=part(lambda: validate_colors(manifest.get("colors", {}), "colors"), {}),
        fonts=part(lambda: _fonts(manifest.get("fonts", {})), {}),
        logo=part(lambda: _asset(manifest.get("logo"), "logo", path), None),
        favicon=part(lambda: _asset(manifest.get("favicon"), "favicon", path), None),
        layout=part(lambda: _layout(manifest.get("layout", {}), path), {}),
    )
    if problems:
        raise ThemeError(problems)
    return theme


class _ManifestError(Exception):
    """Mistakes in one part of a manifest: (message, key) pairs."""

    def __init__(self, message: str, key: str, more: t.Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.found = [(message, key), *more]


def validate_colors(value: object, where: str, strict: bool = True) -> dict[str, str]:
    """Keep known color keys holding ``#rgb``/``#rrggbb`` values (CSS is built from them).

    :param strict: raise on a bad entry (theme manifests); otherwise drop it (admin data,
        which is validated when saved and must never break a page).
    """
    if not isinstance(value, dict):
        if strict:
            raise _ManifestError(f"{where} must be a table", "colors")
        return {}
    colors: dict[str, str] = {}
    wrong: list[tuple[str, str]] = []
    for key, color in value.items():
        if key in COLOR_KEYS and isinstance(color, str) and COLOR.match(color):
            colors[key] = color.lower()
        elif key not in COLOR_KEYS:
            hint = did_you_mean(key, COLOR_KEYS) or f" (known: {', '.join(sorted(COLOR_KEYS))})"
            wrong.append((f"colors: unknown color {key!r}{hint}", key))
        else:
            wrong.append((f"colors.{key}: {color!r} is not a #rgb or #rrggbb color", key))
    if wrong and strict:
        raise _ManifestError(*wrong[0], more=wrong[1:])
    return colors


def _fonts(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _ManifestError("fonts must be a table (body, heading)", "fonts")
    fonts: dict[str, str] = {}
    for key, stack in value.items():
        if key not in FONT_KEYS:
            raise _ManifestError(f"fonts: unknown key {key!r} (known: body, heading)", key)
        if not isinstance(stack, str) or not FONT_STACK.match(stack):
            raise _ManifestError(
                f"fonts.{key} must be a CSS font stack (letters, digits, spaces, quotes, "
                "commas, dots and dashes)",
                key,
            )
        fonts[key] = stack
    return fonts


def _layout(value: object, path: Path) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _ManifestError("layout must be a table (style, panel_image)", "layout")
    unknown = set(value) - LAYOUT_KEYS
    if unknown:
        raise _ManifestError(
            f"layout: unknown keys {', '.join(sorted(unknown))}", sorted(unknown)[0]
        )
    layout: dict[str, str] = {}
    if "style" in value:
        if value["style"] not in LAYOUT_STYLES:
            raise _ManifestError(f"layout.style must be one of {', '.join(LAYOUT_STYLES)}", "style")
        layout["style"] = value["style"]
    panel = _asset(value.get("panel_image"), "panel_image", path)
    if panel:
        layout["panel_image"] = panel
    return layout


def _string(manifest: dict[str, t.Any], key: str, default: str) -> str:
    value = manifest.get(key, default)
    if not isinstance(value, str) or len(value) > 200:
        raise _ManifestError(f"{key} must be a string (at most 200 characters)", key)
    return value


def _assets(manifest: dict[str, t.Any], key: str, path: Path) -> tuple[str, ...]:
    value = manifest.get(key, [])
    if not isinstance(value, list):
        raise _ManifestError(f"{key} must be a list of paths under static/", key)
    return tuple(t.cast(str, _asset(item, key, path)) for item in value)


def _asset(value: object, key: str, path: Path) -> str | None:
    """A file of the theme's own ``static/`` folder, which must exist."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not ASSET_PATH.match(value):
        raise _ManifestError(f"{key} must be a relative path under static/", key)
    if not (path / "static" / value).is_file():
        raise _ManifestError(f"{key} names a missing file static/{value}", key)
    return value


def _line_of(manifest: Path, key: str | None) -> int | None:
    """The first line of ``manifest`` that sets or opens ``key`` (for messages)."""
    if not key:
        return None
    try:
        lines = manifest.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    pattern = re.compile(rf"^\s*(?:\[\s*{re.escape(key)}\s*\]|[\"']?{re.escape(key)}[\"']?\s*=)")
    for number, line in enumerate(lines, start=1):
        if pattern.match(line):
            return number
    return None


def readable_on(background: str) -> str:
    """Black or white text, whichever contrasts more with ``background`` (WCAG formula)."""
    lum = relative_luminance(background)
    on_white = (1.05) / (lum + 0.05)
    on_black = (lum + 0.05) / 0.05
    return "#ffffff" if on_white >= on_black else "#000000"


def relative_luminance(color: str) -> float:
    hexes = color.lstrip("#")
    if len(hexes) in (3, 4):
        hexes = "".join(ch * 2 for ch in hexes[:3])
    channels = [int(hexes[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
