"""Locale selection and translations (Flask-Babel).

Order: ``ui_locales`` of the sign-in, an explicit choice on the page, the user's saved
locale, Accept-Language, then the organization's and the tenant's default.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from flask import Flask
from flask import current_app
from flask import g
from flask import request
from flask_babel import Babel

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
SUPPORTED_LOCALES = ("en", "fr", "de", "es", "ja", "ar")
RTL_LOCALES = frozenset({"ar", "he", "fa", "ur"})


def select_locale() -> str:
    """Pick the page locale; views may set ``g.locale_candidates`` (ui_locales, user...)."""
    for candidate in getattr(g, "locale_candidates", ()):
        for tag in (candidate or "").replace(",", " ").split():
            match = _supported(tag)
            if match:
                return match
    best = request.accept_languages.best_match(SUPPORTED_LOCALES) if request else None
    if best:
        return best
    for default in getattr(g, "locale_defaults", ()):
        match = _supported(default or "")
        if match:
            return match
    return t.cast(str, current_app.extensions["foyer.settings"].default_locale)


def _supported(tag: str) -> str | None:
    tag = tag.strip().replace("_", "-").lower()
    if not tag:
        return None
    if tag in SUPPORTED_LOCALES:
        return tag
    base = tag.split("-")[0]
    return base if base in SUPPORTED_LOCALES else None


def text_direction(locale: str) -> str:
    return "rtl" if locale.split("_")[0] in RTL_LOCALES else "ltr"


def init_i18n(app: Flask) -> None:
    Babel(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS),
    )
