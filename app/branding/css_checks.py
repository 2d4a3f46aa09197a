"""What ``foyer themes check`` finds in a theme's stylesheets, read with tinycss2.

A theme restyles Foyer mostly through the ``--foyer-*`` custom properties the default theme
declares. A browser takes any value for a custom property and only fails where it is used
(``background: var(--foyer-primary)`` with ``#12g`` paints nothing: an invisible button),
so these checks say it first: CSS syntax errors, unknown ``--foyer-*`` names (with "did
you mean"), values that are not colors where a color is expected, and the WCAG contrast
of the pairs every page shows (button text on the primary color, text and muted text on
the card, error text, input outlines), with the values the theme's chain ends up with.
"""

from __future__ import annotations

import dataclasses
import typing as t
from pathlib import Path

import tinycss2
import tinycss2.color4

from app.branding.themes import DEFAULT_THEME
from app.branding.themes import Theme
from app.branding.themes import ThemeProblem
from app.branding.themes import ThemeRegistry
from app.branding.themes import contrast_ratio
from app.branding.themes import readable_on
from app.clikit import did_you_mean

PREFIX = "--foyer-"
GLOBAL_SELECTORS = {":root", "html", ":root, html", "html, :root"}
"""Rules whose custom properties apply to every page (what the contrast checks read)."""

PAIRS: tuple[tuple[str, str, float, str], ...] = (
    ("on-primary", "primary", 4.5, "button text on the primary color"),
    ("text", "surface", 4.5, "text on the card"),
    ("muted", "surface", 4.5, "secondary text on the card"),
    ("danger", "surface", 4.5, "error messages on the card"),
    ("border", "surface", 3.0, "input outlines on the card"),
)
"""(foreground, background, minimum ratio, what it is): WCAG 2.1 AA, 1.4.3 and 1.4.11."""


@dataclasses.dataclass(frozen=True)
class Declaration:
    name: str
    value: str
    file: Path
    line: int
    global_: bool
    """Declared in a rule that applies everywhere (``:root``), outside any at-rule."""


def read_stylesheet(path: Path) -> tuple[list[Declaration], list[tuple[int, str]]]:
    """Every ``--foyer-*`` declaration of ``path``, and its syntax errors (line, message)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [(0, f"cannot read: {exc}")]
    found: list[Declaration] = []
    errors: list[tuple[int, str]] = []
    rules = tinycss2.parse_stylesheet(text)
    _walk(rules, path, found, errors, nested=False)
    unclosed = _unclosed_block_line(text, rules)
    if unclosed is not None:
        errors.append(
            (
                unclosed,
                "CSS syntax error: this block is never closed (a '}' is missing), so "
                "browsers read every rule after it as part of it",
            )
        )
    return found, errors


def _unclosed_block_line(text: str, rules: list[t.Any]) -> int | None:
    """The line of the last top-level rule when a block runs to the end of the file.

    CSS parsers (tinycss2 and browsers alike) close such a block silently at the end, so a
    lost '}' shows only as the closing braces the serializer has to add back.
    """
    tokens = tinycss2.parse_component_value_list(text, skip_comments=False)
    if tinycss2.serialize(tokens).count("}") <= text.count("}"):
        return None
    tops = [rule for rule in rules if rule.type in ("qualified-rule", "at-rule")]
    return tops[-1].source_line if tops else 1


def _walk(
    rules: t.Iterable[t.Any],
    path: Path,
    found: list[Declaration],
    errors: list[tuple[int, str]],
    nested: bool,
) -> None:
    for rule in rules:
        if rule.type == "error":
            errors.append((rule.source_line, f"CSS syntax error: {rule.message}"))
        elif rule.type == "at-rule" and rule.content is not None:
            inner = tinycss2.parse_rule_list(rule.content)
            if any(node.type == "qualified-rule" for node in inner):
                _walk(inner, path, found, errors, nested=True)
        elif rule.type == "qualified-rule":
            selector = " ".join(tinycss2.serialize(rule.prelude).split())
            for item in tinycss2.parse_blocks_contents(rule.content):
                if item.type == "error":
                    errors.append((item.source_line, f"CSS syntax error: {item.message}"))
                elif item.type == "declaration" and item.name.startswith(PREFIX):
                    value = tinycss2.serialize(item.value).strip()
                    is_global = not nested and selector in GLOBAL_SELECTORS
                    found.append(Declaration(item.name, value, path, item.source_line, is_global))
                elif item.type == "qualified-rule":  # CSS nesting
                    _walk([item], path, found, errors, nested=True)


def as_hex(value: str) -> str | None:
    """``value`` as ``#rrggbb`` when it is a plain color (not ``var()`` or ``color-mix()``)."""
    try:
        color = tinycss2.color4.parse_color(value)
    except Exception:  # noqa: BLE001 - tinycss2 cannot convert every color space
        return None
    if color is None or isinstance(color, str):
        return None
    try:
        red, green, blue = color.to("srgb").coordinates
    except (NotImplementedError, ValueError, AttributeError):
        return None
    channels = (max(0, min(255, round(c * 255))) for c in (red, green, blue))
    return "#" + "".join(f"{c:02x}" for c in channels)


def is_computed(value: str) -> bool:
    """A value the browser computes (``var()``, ``color-mix()``...): not checkable here."""
    return "(" in value and not value.lower().startswith(("rgb", "hsl", "hwb", "lab", "lch"))


def not_a_color(value: str) -> bool:
    return not is_computed(value) and as_hex(value) is None


@dataclasses.dataclass
class _Setting:
    value: str
    theme: str
    file: Path
    line: int | None


def css_problems(theme: Theme, registry: ThemeRegistry | None) -> list[ThemeProblem]:
    """The problems of ``theme``'s own stylesheets, and the contrast of its chain's colors
    for the pairs this theme changes."""
    problems: list[ThemeProblem] = []
    known, color_names = _default_properties(registry)
    for style in theme.styles:
        path = theme.static_dir / style
        declarations, errors = read_stylesheet(path)
        problems += [ThemeProblem(theme.name, path, line or None, msg) for line, msg in errors]
        for item in declarations:
            short = item.name.removeprefix(PREFIX)
            if known and short not in known:
                hint = did_you_mean(item.name, [PREFIX + k for k in known])
                problems.append(
                    ThemeProblem(
                        theme.name,
                        path,
                        item.line,
                        f"{item.name} is not a property Foyer's pages use{hint}",
                    )
                )
            elif short in color_names and not_a_color(item.value):
                problems.append(
                    ThemeProblem(
                        theme.name,
                        path,
                        item.line,
                        f"{item.name}: {item.value!r} is not a CSS color; what uses it "
                        "(buttons, links, text) would lose its color",
                    )
                )
    if registry is not None and theme.name in registry:
        problems += contrast_problems(theme, registry)
    return problems


def effective_colors(theme: Theme, registry: ThemeRegistry) -> dict[str, _Setting]:
    """The value each color property ends up with on the theme's pages, and who set it:
    parents first, each theme's ``theme.toml`` colors, then its stylesheets (the order the
    bundle concatenates them in)."""
    settings: dict[str, _Setting] = {}
    for owner in reversed(registry.chain(theme.name)):
        for key, value in owner.colors.items():
            settings[key.replace("_", "-")] = _Setting(value, owner.name, owner.manifest, None)
        if "primary" in owner.colors:
            settings["on-primary"] = _Setting(
                readable_on(owner.colors["primary"]), owner.name, owner.manifest, None
            )
        for style in owner.styles:
            declarations, _errors = read_stylesheet(owner.static_dir / style)
            for item in declarations:
                if item.global_:
                    short = item.name.removeprefix(PREFIX)
                    settings[short] = _Setting(item.value, owner.name, item.file, item.line)
    return settings


def contrast_problems(theme: Theme, registry: ThemeRegistry) -> list[ThemeProblem]:
    settings = effective_colors(theme, registry)
    problems = []
    for front, back, minimum, what in PAIRS:
        fg, bg = settings.get(front), settings.get(back)
        if fg is None or bg is None or theme.name not in (fg.theme, bg.theme):
            continue  # a parent's pair: reported on the parent
        fg_hex, bg_hex = as_hex(fg.value), as_hex(bg.value)
        if fg_hex is None or bg_hex is None:
            continue
        ratio = contrast_ratio(fg_hex, bg_hex)
        if ratio >= minimum:
            continue
        blamed = fg if fg.theme == theme.name and (bg.theme != theme.name or fg.line) else bg
        fix = ""
        if front == "on-primary":
            fix = f"; set --foyer-on-primary: {readable_on(bg_hex)} (or the color in theme.toml)"
        problems.append(
            ThemeProblem(
                theme.name,
                blamed.file,
                blamed.line,
                f"contrast of {what} is {ratio:.1f}:1 (--foyer-{front} {fg.value} on "
                f"--foyer-{back} {bg.value}); WCAG asks at least {minimum:g}:1{fix}",
            )
        )
    return problems


def _default_properties(registry: ThemeRegistry | None) -> tuple[set[str], set[str]]:
    """(every ``--foyer-*`` name the default theme declares or reads, those holding colors)."""
    if registry is None or DEFAULT_THEME not in registry:
        return set(), set()
    default = registry[DEFAULT_THEME]
    names: set[str] = {key.replace("_", "-") for key in default.colors} | {"on-primary"}
    colors = set(names)
    for style in default.styles:
        path = default.static_dir / style
        declarations, _errors = read_stylesheet(path)
        for item in declarations:
            short = item.name.removeprefix(PREFIX)
            names.add(short)
            if as_hex(item.value) is not None:
                colors.add(short)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        for token in _var_names(tinycss2.parse_stylesheet(text)):
            names.add(token.removeprefix(PREFIX))
    return names, colors


def _var_names(nodes: t.Iterable[t.Any]) -> t.Iterator[str]:
    """Names read through ``var(--foyer-...)`` anywhere in a parsed stylesheet."""
    for node in nodes:
        if node.type == "function" and node.lower_name == "var":
            for argument in node.arguments:
                if argument.type == "ident" and argument.value.startswith(PREFIX):
                    yield argument.value
        for child in ("prelude", "content", "arguments", "value"):
            inner = getattr(node, child, None)
            if isinstance(inner, list):
                yield from _var_names(inner)
