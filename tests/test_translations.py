"""The message catalogs are current and complete, and the pages speak every language.

After changing wording run ``scripts/translations`` (extract -> update -> compile), then
translate the new messages in every ``translations/<locale>/LC_MESSAGES/messages.po``.
English is the source language: its catalog lists the messages with empty translations.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.catalog import Message
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from babel.support import Translations

from app.i18n import LOCALE_LABELS
from app.i18n import SUPPORTED_LOCALES

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
SOURCE_LOCALE = "en"
TRANSLATED = [locale for locale in SUPPORTED_LOCALES if locale != SOURCE_LOCALE]

PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]"
)
TAG = re.compile(r"</?[A-Za-z][^>]*>")
COUNT_NAMES = frozenset({"num", "count"})
"""The number a plural is chosen by: a form for exactly one (or two) may leave it out."""


def catalog_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def load(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale, abort_invalid=True)


def messages(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


def keys(catalog: Catalog) -> set[tuple[str | None, str | tuple[str, ...]]]:
    """What identifies a message: its context and msgid (with msgid_plural)."""
    return {
        (message.context, tuple(message.id) if message.pluralizable else message.id)
        for message in messages(catalog)
    }


def forms(message: Message) -> list[str]:
    strings = message.string if message.pluralizable else (message.string,)
    return [str(string or "") for string in strings]


def placeholders(text: str) -> tuple[set[str], list[str]]:
    """Named placeholders (as a set: order is free) and positional ones (in order)."""
    named: set[str] = set()
    positional: list[str] = []
    for match in PLACEHOLDER.finditer(text):
        if match.group("name") is not None:
            named.add(match.group(0))
        elif match.group(0) != "%%":
            positional.append(match.group(0))
    return named, positional


def name(token: str) -> str | None:
    match = PLACEHOLDER.fullmatch(token)
    return match.group("name") if match else None


def test_messages_pot_is_what_extraction_writes(tmp_path):
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [str(ROOT / "scripts" / "translations"), "extract", str(fresh)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHON": sys.executable},
    )
    committed = keys(load(TRANSLATIONS / "messages.pot"))
    current = keys(load(fresh))
    assert sorted(current - committed, key=str) == [], "new strings: run scripts/translations"
    assert sorted(committed - current, key=str) == [], "stale strings: run scripts/translations"


def test_every_supported_locale_has_a_catalog_and_no_other():
    found = {path.parent.parent.name for path in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")}
    assert found == set(SUPPORTED_LOCALES)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_catalog_has_the_messages_of_the_template_and_no_other(locale):
    template = keys(load(TRANSLATIONS / "messages.pot"))
    catalog = load(catalog_path(locale), locale)
    assert sorted(template - keys(catalog), key=str) == [], "missing: run scripts/translations"
    assert sorted(keys(catalog) - template, key=str) == [], "stale: run scripts/translations"
    assert list(catalog.obsolete) == [], "obsolete entries: run scripts/translations"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalog_translates_every_message(locale):
    catalog = load(catalog_path(locale), locale)
    plural = get_plural(locale)
    assert catalog.locale_identifier == locale
    assert catalog.num_plurals == plural.num_plurals
    assert catalog.plural_expr == plural.plural_expr, "Plural-Forms header: use Babel's"
    assert not catalog.fuzzy
    untranslated = [
        message.id
        for message in messages(catalog)
        if message.fuzzy
        or not all(form.strip() for form in forms(message))
        or (message.pluralizable and len(forms(message)) != plural.num_plurals)
    ]
    assert untranslated == [], f"{locale}: translate these (no fuzzy entries)"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_keep_placeholders_and_markup(locale):
    wrong = []
    for message in messages(load(catalog_path(locale), locale)):
        sources = list(message.id) if message.pluralizable else [message.id]
        named = set().union(*(placeholders(source)[0] for source in sources))
        positional = placeholders(sources[-1])[1]
        tags = Counter(TAG.findall(sources[-1]))
        translated = forms(message)
        for index, text in enumerate(translated):
            found_named, found_positional = placeholders(text)
            last = index == len(translated) - 1
            may_omit = set() if last else {token for token in named if name(token) in COUNT_NAMES}
            if not (named - may_omit <= found_named <= named) or found_positional != positional:
                wrong.append((message.id, text, "placeholders"))
            if Counter(TAG.findall(text)) != tags:
                wrong.append((message.id, text, "markup"))
    assert wrong == []


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_catalog_compiles(locale):
    catalog = load(catalog_path(locale), locale)
    errors = [(message.id, [str(error) for error in found]) for message, found in catalog.check()]
    assert errors == []
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    translations = Translations(compiled)
    for message in messages(catalog):
        if not message.pluralizable and message.string and not message.context:
            assert translations.gettext(message.id) == message.string
            break


@pytest.fixture(scope="module")
def compiled_catalogs() -> None:
    """The .mo files Flask-Babel reads, rebuilt when older than their .po (as
    ``scripts/translations compile`` would; replaced atomically for parallel workers)."""
    for locale in SUPPORTED_LOCALES:
        source = catalog_path(locale)
        target = source.with_suffix(".mo")
        if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
            continue
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as fh:
            write_mo(fh, load(source, locale))
        os.replace(fh.name, target)


@pytest.mark.parametrize(
    ("locale", "title", "direction"),
    [
        ("fr", "Se connecter", "ltr"),
        ("de", "Anmelden", "ltr"),
        ("es", "Iniciar sesión", "ltr"),
        ("ja", "ログイン", "ltr"),
        ("ar", "تسجيل الدخول", "rtl"),
    ],
)
def test_sign_in_page_speaks_each_language(
    compiled_catalogs, client, make_login_tx, locale, title, direction
):
    tx = make_login_tx(params={"ui_locales": locale})
    page = client.get(f"/login?tx={tx}").get_data(as_text=True)
    assert f'<html lang="{locale}" dir="{direction}">' in page
    heading = re.search(r'<h1[^>]*id="page-title"[^>]*>(.*?)</h1>', page, re.S)
    assert heading and heading.group(1).strip() == title
    assert re.search(rf"<title>{re.escape(title)}( · |</title>)", page)


def test_login_pages_strings_are_extracted():
    template = {message.id for message in messages(load(TRANSLATIONS / "messages.pot"))}
    for message in (
        "Email or username",
        "Wrong email or password.",
        "Sign out?",
        "You are signed out",
        "Skip to content",
        "Your form expired",
    ):
        assert message in template


def test_language_switcher_names_are_cldr_names() -> None:
    """The switcher's names, written out in app.i18n, are the ones Babel's CLDR data gives."""
    assert set(LOCALE_LABELS) == set(SUPPORTED_LOCALES)
    for code, label in LOCALE_LABELS.items():
        name = Locale.parse(code).get_display_name(code)
        assert label == name[:1].upper() + name[1:]
