"""Wording overrides per theme and locale, merged over the core catalogs.

A theme may ship ``translations/<locale>/LC_MESSAGES/messages.po`` with only the messages
it rewords (``msgid "Sign in"`` / ``msgstr "Log in to the Acme portal"``); ``en`` is a
locale like any other. Plain ``.po`` files, so a designer needs no compile step. For a
request, the catalog is the core one with each theme of the chain merged over it, from
``default`` down to the request's theme (the most specific wording wins). Merged catalogs
are cached per theme and locale, and re-read when a ``.po`` file changes under live reload.

A ``.po`` file that does not parse is logged (and reported by ``foyer themes check``) and
left out: the page keeps the parent's or the core wording.
"""

from __future__ import annotations

import io
import logging
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

from app.branding.assets import live_reload
from app.branding.context import current_theme_name
from app.branding.themes import Theme
from app.branding.themes import ThemeProblem

log = logging.getLogger(__name__)

_Stamps = tuple[tuple[str, int], ...]
"""(path, mtime) of each wording file merged, parents first."""


def catalog_path(theme: Theme, locale: str) -> Path:
    return theme.translations_dir / locale / "LC_MESSAGES" / "messages.po"


def read_overrides(path: Path) -> Translations:
    """A ``.po`` file as gettext translations (raises PoFileError/OSError when broken)."""
    with path.open("rb") as fh:
        catalog = read_po(fh, abort_invalid=True)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


class ThemedDomain(Domain):  # type: ignore[misc]
    """Flask-Babel's domain, with the request theme's wording merged over the core's."""

    def __init__(self, translation_directories: list[str] | None = None) -> None:
        super().__init__(translation_directories=translation_directories)
        self._themed: dict[tuple[str, str], tuple[_Stamps, Translations | NullTranslations]] = {}
        self._broken_logged: set[tuple[str, int]] = set()

    def get_translations(self) -> Translations | NullTranslations:
        core = super().get_translations()
        if not has_app_context() or "foyer.themes" not in current_app.extensions:
            return core
        locale = str(get_locale() or "")
        if not locale:
            return core
        key = (current_theme_name(), locale)
        per_request: dict[tuple[str, str], t.Any] = g.setdefault("_foyer_wording", {})
        if key in per_request:  # one lookup per request, not per message
            return t.cast(Translations, per_request[key])
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
