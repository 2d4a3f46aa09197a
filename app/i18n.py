"""Locale selection and translations (Flask-Babel).

Order: ``ui_locales`` of the sign-in, a language picked on the page (``?lang=``, kept in
the session), the user's saved locale, Accept-Language, then the organization's and the
tenant's default. Views put the sign-in's hints and the defaults in the request's
:class:`PageLanguages`; a language picked on the page *after* the sign-in started comes
first there, so the language switcher always does what it says.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import typing as t
from urllib.parse import urlencode

from babel import Locale
from flask import Flask
from flask import current_app
from flask import g
from flask import has_request_context
from flask import request
from flask import session as cookie
from flask_babel import Babel
from flask_babel import get_locale
from flask_babel import get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from app.config import shipped_path

TRANSLATIONS = shipped_path("translations")
SUPPORTED_LOCALES = ("en", "fr", "de", "es", "ja", "ar")
RTL_LOCALES = frozenset({"ar", "he", "fa", "ur"})
SESSION_KEY = "locale"
"""Session entry of the language picked on the page: ``{"tag": "fr", "at": <epoch>}``."""
_LANGUAGES = "foyer_languages"


@dataclasses.dataclass
class PageLanguages:
    """What the view of this request knows about its reader's language."""

    candidates: list[str | None] = dataclasses.field(default_factory=list)
    """Before Accept-Language: the sign-in's ``ui_locales``, the user's saved locale..."""
    defaults: list[str | None] = dataclasses.field(default_factory=list)
    """After Accept-Language: the organization's default, then the tenant's."""


def page_languages() -> PageLanguages:
    """This request's (empty until a view fills it)."""
    languages = g.get(_LANGUAGES)
    if languages is None:
        languages = PageLanguages()
        setattr(g, _LANGUAGES, languages)
    return t.cast(PageLanguages, languages)


def select_locale() -> str:
    """Pick the page locale from the request's :class:`PageLanguages` and the browser's."""
    languages = g.get(_LANGUAGES) or PageLanguages()
    candidates = [*languages.candidates, page_choice()]
    for candidate in candidates:
        for tag in (candidate or "").replace(",", " ").split():
            match = _supported(tag)
            if match:
                return match
    best = request.accept_languages.best_match(SUPPORTED_LOCALES) if request else None
    if best:
        return best
    for default in languages.defaults:
        match = _supported(default or "")
        if match:
            return match
    return t.cast(str, current_app.extensions["foyer.settings"].default_locale)


def _selected_locale() -> Locale:
    """:func:`select_locale` as the Babel locale Flask-Babel would parse from it, parsed
    once per process (tags come from a fixed list and the configured default)."""
    return _parsed_locale(select_locale())


@functools.cache
def _parsed_locale(tag: str) -> Locale:
    return Locale.parse(tag)


def _supported(tag: str) -> str | None:
    tag = tag.strip().replace("_", "-").lower()
    if not tag:
        return None
    if tag in SUPPORTED_LOCALES:
        return tag
    base = tag.split("-")[0]
    return base if base in SUPPORTED_LOCALES else None


def text_direction(locale: str) -> str:
    return "rtl" if locale.replace("-", "_").split("_")[0] in RTL_LOCALES else "ltr"


def page_choice() -> str | None:
    """The language picked with the switcher in this browser, if any."""
    if not has_request_context():
        return None
    choice = cookie.get(SESSION_KEY)
    return _supported(choice.get("tag", "")) if isinstance(choice, dict) else None


def page_choice_time() -> float:
    """When the language was picked (epoch seconds; 0 when never)."""
    choice = cookie.get(SESSION_KEY) if has_request_context() else None
    at = choice.get("at") if isinstance(choice, dict) else None
    return float(at) if isinstance(at, (int, float)) else 0.0


def remember_page_choice() -> None:
    """Keep ``?lang=<tag>`` in the session when it names a supported locale (else ignore)."""
    raw = request.args.get("lang")
    if not raw or len(raw) > 35:
        return
    match = _supported(raw)
    if match is not None:
        cookie[SESSION_KEY] = {"tag": match, "at": time.time()}


def locale_tag() -> str:
    """The current locale as a BCP 47 tag for ``<html lang>`` (``pt-BR``, not ``pt_BR``)."""
    locale = get_locale()
    return str(locale).replace("_", "-") if locale is not None else "en"


LOCALE_LABELS: dict[str, str] = {
    "en": "English",
    "fr": "Français",
    "de": "Deutsch",
    "es": "Español",
    "ja": "日本語",
    "ar": "العربية",
}
"""Each supported language's name in that language, for the switcher: CLDR's names as Babel
gives them (a test holds them equal). Written out because asking Babel loads the whole CLDR
data of all six locales, about 9 MiB in every worker, for six words."""
AVAILABLE_LOCALES = [(code, LOCALE_LABELS[code]) for code in SUPPORTED_LOCALES]
"""(tag, native name) of every language the pages can be shown in."""


def lang_url(code: str) -> str:
    """This page's URL with ``lang`` set (path and query only: never another host)."""
    if not has_request_context():
        return f"?{urlencode([('lang', code)])}"
    prefix = g.get(_LANG_PREFIX)
    if prefix is None:  # the same for every language of the switcher: made once a page
        args = [(key, value) for key, value in request.args.items(multi=True) if key != "lang"]
        # "//evil.test/x" would be a link to another host: keep a single leading slash
        path = "/" + request.path.lstrip("/\\")
        prefix = f"{path}?{urlencode(args)}&" if args else f"{path}?"
        setattr(g, _LANG_PREFIX, prefix)
    return f"{prefix}{_LANG_QUERIES.get(code) or urlencode([('lang', code)])}"


_LANG_PREFIX = "foyer_lang_prefix"
_LANG_QUERIES = {code: urlencode([("lang", code)]) for code in SUPPORTED_LOCALES}
"""``lang=<tag>`` of the switcher's languages, encoded once per process."""

WORDING = "_foyer_wording"
"""Template context entry holding the page's translations (its theme's wording over the
core catalog), looked up once per rendered template instead of once per message."""


def _wording(context: Context) -> t.Any:
    """The page's translations: the ones the render started with (theme and language do
    not change while a template renders), else Flask-Babel's (a macro imported without
    the page's context)."""
    wording = context.get(WORDING)
    return wording if wording is not None else get_translations()


def _finish(context: Context, text: str, variables: dict[str, t.Any]) -> str:
    """What Jinja's new-style gettext does with a looked-up message: mark it safe when
    autoescaping (the placeholders are escaped by ``%``), then fill them in."""
    if context.eval_ctx.autoescape:
        text = Markup(text)
    if not variables and "%" not in text:
        return text  # what ``%`` would give, without wrapping an empty mapping to escape it
    return text % variables


@pass_context
def _gettext(context: Context, message: str, /, **variables: t.Any) -> str:
    return _finish(context, _wording(context).ugettext(message), variables)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, num: int, /, **variables: t.Any) -> str:
    variables.setdefault("num", num)
    return _finish(context, _wording(context).ungettext(singular, plural, num), variables)


@pass_context
def _pgettext(context: Context, ctxt: str, message: str, /, **variables: t.Any) -> str:
    variables.setdefault("context", ctxt)
    return _finish(context, _wording(context).upgettext(ctxt, message), variables)


@pass_context
def _npgettext(
    context: Context, ctxt: str, singular: str, plural: str, num: int, /, **variables: t.Any
) -> str:
    variables.setdefault("context", ctxt)
    variables.setdefault("num", num)
    return _finish(context, _wording(context).unpgettext(ctxt, singular, plural, num), variables)


def init_i18n(app: Flask) -> None:
    Babel(
        app,
        locale_selector=_selected_locale,
        default_translation_directories=str(TRANSLATIONS),
    )

    # Jinja's i18n callables, as Flask-Babel installs them but with the translations
    # found once per render (:data:`WORDING`); ``_`` calls gettext without the alias hop
    app.jinja_env.globals.update(
        gettext=_gettext, _=_gettext, ngettext=_ngettext, pgettext=_pgettext, npgettext=_npgettext
    )
    app.before_request(remember_page_choice)

    @app.context_processor
    def _locale_context() -> dict[str, t.Any]:
        tag = locale_tag()
        return {
            "current_locale": tag,
            "text_direction": text_direction(tag),
            "available_locales": AVAILABLE_LOCALES,
            "lang_url": lang_url,
            WORDING: get_translations(),
        }
