"""Wording overrides per theme and locale, merged over the core catalogs.

A theme may ship ``translations/<locale>/LC_MESSAGES/messages.po`` with only the messages
it rewords (``msgid "Sign in"`` / ``msgstr "Log in to the Acme portal"``); ``en`` is a
locale like any other. Plain ``.po`` files, so a designer needs no compile step. For a
request, the catalog is the core one with each theme of the chain merged over it, from
``default`` down to the request's theme (the most specific wording wins). Merged catalogs
are cached per theme and locale, and re-read when a ``.po`` file changes under live reload.

A ``.po`` file that does not parse is logged (and reported by ``foyer themes check``) and
left out: the page keeps the parent's or the core wording.

Theme wording is plain text: the core catalogs are trusted as markup (their messages may
hold ``<bdi>`` and ``<strong>``), a theme's are not. Each theme message is a
:class:`ThemeWording`, escaped wherever it meets HTML but for the very tags its core
message (the msgid) has; ``foyer themes check`` flags the rest.
"""

from __future__ import annotations

import io
import logging
import re
import typing as t
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError
from babel.messages.pofile import read_po
from babel.support import NullTranslations
from babel.support import Translations
from flask import current_app
from flask import g
from flask import has_app_context
from flask_babel import Domain
from flask_babel import get_locale
from markupsafe import Markup
from markupsafe import escape

from app.branding.assets import live_reload
from app.branding.context import current_theme_name
from app.branding.themes import Theme
from app.branding.themes import ThemeProblem

log = logging.getLogger(__name__)

_Stamps = tuple[tuple[str, int], ...]
"""(path, mtime) of each wording file merged, parents first."""


TAG = re.compile(r"<[^<>]*>")
CHARACTER_REFERENCE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);")


def catalog_path(theme: Theme, locale: str) -> Path:
    return theme.translations_dir / locale / "LC_MESSAGES" / "messages.po"


def wording_html(text: str, source: str) -> Markup:
    """``text`` escaped for HTML, but for the tags that appear, exactly so, in ``source``."""
    allowed = set(TAG.findall(source))
    parts: list[str] = []
    position = 0
    for match in TAG.finditer(text):
        parts.append(escape(text[position : match.start()]))
        tag = match.group()
        parts.append(tag if tag in allowed else escape(tag))
        position = match.end()
    parts.append(escape(text[position:]))
    return Markup("".join(parts))


def unsafe_markup(text: str, source: str) -> list[str]:
    """The tags and character references of ``text`` that :func:`wording_html` escapes."""
    allowed = set(TAG.findall(source))
    found = [tag for tag in TAG.findall(text) if tag not in allowed]
    return found + CHARACTER_REFERENCE.findall(text)


class ThemeWording(str):
    """One message of a theme: plain text to Python code (email subjects, flashed
    messages); in HTML (``__html__``, which Jinja and Markup call) escaped but for its core
    message's tags."""

    _html: Markup

    def __new__(cls, text: str, source: str) -> ThemeWording:
        wording = super().__new__(cls, text)
        wording._html = wording_html(text, source)
        return wording

    def __html__(self) -> Markup:
        return self._html

    def __str__(self) -> str:
        """Itself, so ``str()`` keeps ``__html__``: Flask-Babel's lazy strings and WTForms
        labels pass a message through ``str()`` before treating it as markup."""
        return self


def read_overrides(path: Path) -> Translations:
    """A theme's ``.po`` file as gettext translations whose messages are
    :class:`ThemeWording` (raises PoFileError/OSError when broken)."""
    with path.open("rb") as fh:
        catalog = read_po(fh, abort_invalid=True)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    translations = Translations(buffer)
    messages = translations._catalog  # gettext's own table, as Translations.merge uses it
    for key, text in messages.items():
        source = key[0] if isinstance(key, tuple) else key
        if source and text:
            messages[key] = ThemeWording(text, source)
    return translations


class ThemedDomain(Domain):  # type: ignore[misc]
    """Flask-Babel's domain, with the request theme's wording merged over the core's."""

    def __init__(self, translation_directories: list[str] | None = None) -> None:
        super().__init__(translation_directories=translation_directories)
        self._themed: dict[tuple[str, str], tuple[_Stamps, Translations | NullTranslations]] = {}
        self._broken_logged: set[tuple[str, int]] = set()

    def get_translations(self) -> Translations | NullTranslations:
        if not has_app_context() or "foyer.themes" not in current_app.extensions:
            return super().get_translations()
        locale = str(get_locale() or "")
        if not locale:
            return super().get_translations()
        key = (current_theme_name(), locale)
        per_request: dict[tuple[str, str], t.Any] = g.setdefault("_foyer_wording", {})
        if key in per_request:  # one lookup per request, not per message
            return t.cast(Translations, per_request[key])
        core = super().get_translations()
        cached: tuple[_Stamps, Translations | NullTranslations] | None = self._themed.get(key)
        if cached is None or live_reload(current_app):
            themes = current_app.extensions["foyer.themes"]
            files = tuple(
                (str(path), _mtime(path))
                for theme in reversed(themes.chain(key[0]))
                for path in [catalog_path(theme, locale)]
                if path.is_file()
            )
            if cached is None or cached[0] != files:
                cached = (files, self._merge(core, files))
                self._themed[key] = cached
        assert cached is not None
        per_request[key] = cached[1]
        return cached[1]

    def _merge(
        self, core: Translations | NullTranslations, files: _Stamps
    ) -> Translations | NullTranslations:
        if not files:
            return core
        merged = Translations()
        merged.merge(t.cast(Translations, core))
        if hasattr(core, "plural"):
            merged.plural = core.plural
        for path, mtime in files:
            try:
                merged.merge(read_overrides(Path(path)))
            except (OSError, PoFileError, ValueError) as exc:
                if (path, mtime) not in self._broken_logged:
                    self._broken_logged.add((path, mtime))
                    log.error("%s: wording overrides left out: %s", path, exc)
        return merged


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def install_themed_domain(app: t.Any) -> None:
    """Make Flask-Babel look up messages through :class:`ThemedDomain`."""
    babel = app.extensions["babel"]
    babel.instance.domain_instance = ThemedDomain()


PO_STRING_LINE = re.compile(r'^\s*(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)?\s*"')
PO_TERMINATED = re.compile(r'"(?:[^"\\]|\\.)*"\s*$')


def unterminated_strings(theme: Theme, path: Path) -> list[ThemeProblem]:
    """Strings missing their closing quote. Babel reads an unterminated last string as it
    is, so the page would show text cut short (or with a stray quote) and no error."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []  # reported when the file is read
    problems = []
    for number, line in enumerate(lines, start=1):
        if line.lstrip().startswith("#") or not PO_STRING_LINE.match(line):
            continue
        quoted = line[line.index('"') :]
        if not PO_TERMINATED.fullmatch(quoted):
            problems.append(
                ThemeProblem(
                    theme.name,
                    path,
                    number,
                    'this string has no closing quote ("): its text would be cut short',
                )
            )
    return problems


def translation_problems(theme: Theme, known_msgids: t.Container[str] | None) -> list[ThemeProblem]:
    """Unparsable ``.po`` files, and overrides of messages the core does not have (a typo
    in a msgid silently changes nothing, so it is worth a warning)."""
    problems: list[ThemeProblem] = []
    if not theme.translations_dir.is_dir():
        return problems
    for path in sorted(theme.translations_dir.glob("*/LC_MESSAGES/*.po")):
        try:
            with path.open("rb") as fh:
                catalog = read_po(fh, abort_invalid=True)
        except PoFileError as exc:
            problems.append(
                ThemeProblem(
                    theme.name,
                    path,
                    getattr(exc, "lineno", None),
                    f"cannot read wording overrides: {exc}",
                )
            )
            continue
        except (OSError, ValueError) as exc:
            problems.append(
                ThemeProblem(theme.name, path, None, f"cannot read wording overrides: {exc}")
            )
            continue
        if path.name != "messages.po":
            problems.append(
                ThemeProblem(theme.name, path, None, "only messages.po is read; rename this file")
            )
        problems += unterminated_strings(theme, path)
        problems += _markup_problems(theme, path, catalog)
        if known_msgids is None:
            continue
        for message in catalog:
            if (
                message.id
                and str(message.id if isinstance(message.id, str) else message.id[0])
                not in known_msgids
            ):
                line = message.lineno if message.lineno else None
                problems.append(
                    ThemeProblem(
                        theme.name,
                        path,
                        line,
                        f"msgid {str(message.id)!r} is not a Foyer message (check its spelling "
                        "against translations/messages.pot)",
                    )
                )
    return problems


def _markup_problems(theme: Theme, path: Path, catalog: t.Any) -> list[ThemeProblem]:
    """HTML in wording, which pages show as text: tags the core message does not have, and
    character references (``&amp;``: write the character itself)."""
    problems: list[ThemeProblem] = []
    lines: list[str] | None = None
    for message in catalog:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        if not ids[0]:
            continue
        found = [m for text in texts if text for m in unsafe_markup(str(text), str(ids[0]))]
        if not found:
            continue
        if lines is None:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        kept = sorted(set(TAG.findall(str(ids[0]))))
        where = (
            f"only the core message's {', '.join(kept)} is kept"
            if kept
            else "theme wording is plain text"
        )
        problems.append(
            ThemeProblem(
                theme.name,
                path,
                _line_of_markup(lines, message.lineno, found[0]),
                f"the wording of {str(ids[0])!r} holds HTML ({', '.join(found)}), which pages "
                f"show as text: {where}",
            )
        )
    return problems


def _line_of_markup(lines: list[str], start: int | None, fragment: str) -> int | None:
    """The line of ``fragment`` in the entry starting at line ``start`` (else that line)."""
    if not start:
        return None
    for number in range(start, len(lines) + 1):
        line = lines[number - 1]
        if number > start and not line.strip():
            break
        if line.lstrip().startswith(("msgstr", '"')) and fragment in line:
            return number
    return start
