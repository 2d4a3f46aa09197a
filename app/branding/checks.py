"""``foyer themes check`` and the start-up report: every problem of every theme, with the
file and line to fix.

Manifest and inheritance problems stop start-up (:func:`app.branding.themes.load_registry`);
the "soft" problems found here (a template that does not compile or names a template that
does not exist, a wording file that does not parse or overrides an unknown message) are
logged at start-up and the page falls back to the parent theme.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from babel.messages.pofile import read_po
from jinja2 import Environment
from jinja2 import TemplateSyntaxError
from jinja2 import meta

from app.branding.css_checks import css_problems
from app.branding.themes import DEFAULT_THEME
from app.branding.themes import Theme
from app.branding.themes import ThemeProblem
from app.branding.themes import ThemeRegistry
from app.branding.themes import chain_problems
from app.branding.themes import scan_themes
from app.branding.translations import translation_problems
from app.i18n import TRANSLATIONS

CORE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CORE_CATALOG = TRANSLATIONS / "messages.pot"


def check_folders(folders: t.Iterable[Path]) -> list[ThemeProblem]:
    """Every problem of the themes under ``folders`` (what ``foyer themes check`` prints)."""
    themes, problems = scan_themes(folders)
    problems += chain_problems(themes)
    registry = _usable_registry(themes)
    for theme in sorted(themes.values(), key=lambda item: item.name):
        problems += template_problems(theme, registry)
        problems += translation_problems(theme, core_msgids())
        problems += css_problems(theme, registry)
    return problems


def _usable_registry(themes: dict[str, Theme]) -> ThemeRegistry | None:
    """A registry of the themes whose chain is sound (to check the others' templates)."""
    usable = dict(themes)
    while usable:
        broken = {problem.theme for problem in chain_problems(usable)}
        if not broken:
            return ThemeRegistry(usable)
        if DEFAULT_THEME in broken:
            return None
        for name in broken:
            usable.pop(name, None)
    return None


def soft_problems(themes: ThemeRegistry) -> list[ThemeProblem]:
    """Template and wording problems of a loaded registry (logged at start-up)."""
    problems: list[ThemeProblem] = []
    msgids = core_msgids()
    for theme in themes:
        problems += template_problems(theme, themes)
        problems += translation_problems(theme, msgids)
    return problems


def core_msgids() -> set[str] | None:
    if not CORE_CATALOG.is_file():
        return None
    with CORE_CATALOG.open("rb") as fh:
        return {str(m.id if isinstance(m.id, str) else m.id[0]) for m in read_po(fh) if m.id}


def template_problems(theme: Theme, registry: ThemeRegistry | None) -> list[ThemeProblem]:
    """Syntax errors, and ``extends``/``include``/``import`` of templates that do not exist."""
    if not theme.templates_dir.is_dir():
        return []
    env = Environment(extensions=["jinja2.ext.i18n", "jinja2.ext.do"], autoescape=True)
    problems: list[ThemeProblem] = []
    for path in sorted(theme.templates_dir.rglob("*")):
        if (
            not path.is_file()
            or path.name.startswith(".")
            or path.suffix not in (".html", ".txt", ".xml", ".svg", ".j2", ".jinja")
        ):
            continue
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(ThemeProblem(theme.name, path, None, f"cannot read: {exc}"))
            continue
        try:
            tree = env.parse(source, path.name, str(path))
        except TemplateSyntaxError as exc:
            problems.append(
                ThemeProblem(
                    theme.name,
                    path,
                    exc.lineno,
                    f"template syntax error: {exc.message} (pages use the parent theme's "
                    "template until it is fixed)",
                )
            )
            continue
        if registry is None or theme.name not in registry:
            continue
        for name in meta.find_referenced_templates(tree):
            if name is not None and not template_exists(registry, theme.name, name):
                problems.append(
                    ThemeProblem(
                        theme.name,
                        path,
                        _line_of(source, name),
                        f"names the template {name!r}, which does not exist",
                    )
                )
    return problems


def template_exists(registry: ThemeRegistry, theme_name: str, name: str) -> bool:
    prefix, sep, rest = name.partition(":")
    if sep:
        if prefix == "core":
            return (CORE_TEMPLATES / rest).is_file()
        return prefix in registry and (registry[prefix].templates_dir / rest).is_file()
    if (CORE_TEMPLATES / name).is_file():
        return True
    return any((theme.templates_dir / name).is_file() for theme in registry.chain(theme_name))


def _line_of(source: str, needle: str) -> int | None:
    for number, line in enumerate(source.splitlines(), start=1):
        if needle in line:
            return number
    return None
