"""Wording overrides per theme and locale, the example themes, and the designers' preview."""

from __future__ import annotations

import re

import pytest

from app.branding.themes import contrast_ratio
from app.branding.themes import readable_on
from app.db import session
from app.i18n import SUPPORTED_LOCALES
from tests.branding.conftest import write_theme

EXAMPLES = ("ember", "nocturne", "harbor")


@pytest.fixture
def themes_dir(tmp_path):
    root = tmp_path / "themes"
    write_theme(
        root,
        "worded",
        'label = "Worded"',
        {
            "translations/en/LC_MESSAGES/messages.po": 'msgid "Continue"\nmsgstr "Onward"\n',
            "translations/fr/LC_MESSAGES/messages.po": 'msgid "Continue"\nmsgstr "En avant"\n',
        },
    )
    write_theme(
        root,
        "worded-child",
        'label = "Child"\nparent = "worded"',
        {
            "translations/en/LC_MESSAGES/messages.po": 'msgid "Sign in"\nmsgstr "Log in"\n',
        },
    )
    write_theme(
        root,
        "badly-worded",
        'label = "Bad"',
        {
            "translations/en/LC_MESSAGES/messages.po": 'msgid "Continue"\nmsgstr "x\n',
        },
    )
    return root


@pytest.fixture
def foyer_config(foyer_config, themes_dir):
    return {**foyer_config, "themes_dir": str(themes_dir)}


def sign_in_page(client, tenant, theme: str, lang: str = "en") -> str:
    tenant.settings = {"theme": theme}
    session.commit()
    return client.get(f"/login?lang={lang}", follow_redirects=True).get_data(as_text=True)


def test_theme_rewords_per_locale_and_children_add_to_parents(client, tenant):
    page = sign_in_page(client, tenant, "worded")
    assert ">Onward</button>" in page
    child = sign_in_page(client, tenant, "worded-child")
    assert ">Onward</button>" in child  # inherited
    assert "<title>Log in · Acme Inc.</title>" in child  # its own
    plain = sign_in_page(client, tenant, "default")
    assert ">Continue</button>" in plain  # other themes keep the core wording


def test_theme_wording_in_another_locale(client, tenant):
    page = sign_in_page(client, tenant, "worded", "fr")
    assert '<html lang="fr"' in page and ">En avant</button>" in page


def test_unreadable_wording_file_falls_back_to_the_core_wording(client, tenant):
    page = sign_in_page(client, tenant, "badly-worded")
    assert ">Continue</button>" in page


@pytest.mark.parametrize("theme", EXAMPLES)
def test_example_theme_colors_meet_contrast_targets(foyer_app, theme):
    colors = foyer_app.extensions["foyer.themes"].colors(theme)
    for key in ("text", "muted", "danger"):
        assert contrast_ratio(colors[key], colors["surface"]) >= 4.5, key
    assert contrast_ratio(colors["muted"], colors["background"]) >= 4.5
    assert contrast_ratio(colors["primary"], colors["surface"]) >= 4.5  # links
    primary = colors["primary"]
    assert contrast_ratio(primary, readable_on(primary)) >= 4.5  # button text
    assert contrast_ratio(colors["border"], colors["surface"]) >= 3  # input outlines
    assert contrast_ratio(colors["focus"], colors["background"]) >= 3  # focus ring


def test_example_themes_look_different(foyer_app):
    themes = foyer_app.extensions["foyer.themes"]
    assert themes.layout("ember")["style"] == "split"
    assert themes.colors("nocturne")["background"] == "#0b1120"  # dark
    assert (themes["harbor"].templates_dir / "login" / "identifier.html").is_file()
    assert len({themes.colors(name)["primary"] for name in EXAMPLES}) == 3
    assert len({themes.fonts(name)["heading"] for name in EXAMPLES}) == 3


@pytest.mark.parametrize("theme", EXAMPLES)
def test_example_theme_sign_in_page(client, tenant, theme):
    page = sign_in_page(client, tenant, theme)
    assert f'class="theme-{theme} layout-' in page
    assert 'id="login-identifier-form"' in page and 'for="identifier">' in page
    assert " style=" not in page and "<style" not in page
    assert re.search(r'id="brand-logo" src="/assets/[0-9a-f]{16}/logo\.svg" alt="Acme Inc\."', page)
    if theme == "harbor":
        assert 'id="sign-in-notice"' in page and ">Next</button>" in page
    if theme == "ember":
        assert 'id="brand-panel" aria-hidden="true"' in page
        assert re.search(r'class="panel__image" src="/assets/[0-9a-f]{16}/panel\.svg"', page)


def test_preview_is_off_unless_theme_development(client, tenant):
    assert client.get("/_themes/").status_code == 404
    assert client.get("/_themes/ember/login/identifier").status_code == 404


def test_preview_renders_every_page_of_every_theme_in_every_locale(foyer_app, client, tenant):
    foyer_app.extensions["foyer.settings"].theme_development = True
    try:
        index = client.get("/_themes/").get_data(as_text=True)
        pages = sorted(set(re.findall(r'href="/_themes/default/([^"?]+)"', index)))
        assert {"login/identifier", "login/password", "errors/error"} <= set(pages)
        assert not any(p.startswith(("macros/", "themes/")) or p == "layout" for p in pages)
        for theme in ("default", *EXAMPLES, "worded-child"):
            assert f'href="/_themes/{theme}/login/identifier?lang=ar"' in index
            for page in pages:
                for lang in ("en", "ar") if theme != "default" else SUPPORTED_LOCALES:
                    answer = client.get(f"/_themes/{theme}/{page}?lang={lang}")
                    assert answer.status_code == 200, (theme, page, lang)
        identifier = client.get("/_themes/harbor/login/identifier?lang=ar").get_data(as_text=True)
        assert '<html lang="ar" dir="rtl">' in identifier and 'id="sign-in-notice"' in identifier
        english = client.get("/_themes/harbor/login/identifier?lang=en").get_data(as_text=True)
        assert "Sign in to <bdi>Example Corporation</bdi>" in english
        assert "Email or username" in english  # the sign-in form's label, no other form's
        assert "Identifier the user types" not in english
        emails = sorted(set(re.findall(r'href="/_themes/default/(mail/[^"?]+)\?part=text"', index)))
        for email in emails:  # each email's text part, when the theme has emails
            answer = client.get(f"/_themes/ember/{email}?part=text&lang=ar")
            assert answer.status_code == 200 and answer.mimetype == "text/plain"
        assert not any(page.endswith("/macros") for page in pages)
        assert client.get("/_themes/harbor/login/nope").status_code == 404
        assert client.get("/_themes/nope/login/identifier").status_code == 404
        assert client.get("/_themes/default/layout").status_code == 404
    finally:
        foyer_app.extensions["foyer.settings"].theme_development = False
