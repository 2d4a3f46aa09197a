"""Each example theme in a real browser: screenshots and an accessibility scan.

For every organization theme, the sign-in, password, change-password and error pages are
shot in English and Arabic (right to left), at desktop and mobile widths, into
``e2e-artifacts/screenshots/<theme>-<page>-<locale>-<width>.png``; axe-core scans each page
(desktop) and no serious or critical violation is allowed. The organizations come from the
accounts file (``organizations``: theme -> {name, display_name, url}); e2e/seed_branding.py
seeds them locally. One browser context per theme keeps credential posts few (the sign-in
forms are rate limited per address).
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import pytest
from playwright.sync_api import expect

from e2e.conftest import ARTIFACTS
from e2e.pages import blocking

SCREENSHOTS = ARTIFACTS / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 820}, "mobile": {"width": 390, "height": 844}}
LOCALES = ("en", "ar")
THEMES = ("ember", "nocturne", "harbor")
LAYOUTS = {"ember": "split", "nocturne": "card", "harbor": "card"}


def organization(deployment: t.Any, theme: str) -> dict[str, str]:
    organizations = deployment.accounts.get("organizations") or {}
    if theme not in organizations:
        pytest.skip(f"the accounts file names no organization with the {theme} theme")
    return t.cast(dict[str, str], organizations[theme])


def with_lang(url: str, locale: str) -> str:
    parts = urlsplit(url)
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("lang="))
    query = "&".join(filter(None, [query, urlencode({"lang": locale})]))
    return urlunsplit(parts._replace(query=query))


class Shooter:
    """Screenshots and axe results of one theme's pages."""

    def __init__(self, page: t.Any, theme: str) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.page = page
        self.theme = theme
        self.axe = Axe()
        self.violations: list[str] = []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def each_locale(self, name: str, url: str) -> None:
        for locale in LOCALES:
            self.page.goto(with_lang(url, locale))
            html = self.page.locator("html")
            expect(html).to_have_attribute("lang", locale)
            expect(html).to_have_attribute("dir", "rtl" if locale == "ar" else "ltr")
            expect(self.page.locator("body")).to_have_class(
                f"theme-{self.theme} layout-{LAYOUTS[self.theme]}"
            )
            self.page.evaluate("document.fonts.ready")
            for viewport, size in VIEWPORTS.items():
                self.page.set_viewport_size(size)
                self.page.screenshot(
                    path=str(SCREENSHOTS / f"{self.theme}-{name}-{locale}-{viewport}.png"),
                    full_page=True,
                )
            self.page.set_viewport_size(VIEWPORTS["desktop"])
            self.violations += [
                f"{name} {locale}: {problem}" for problem in blocking(self.axe, self.page)
            ]


@pytest.mark.parametrize("theme", THEMES)
def test_theme_pages_screenshots_and_accessibility(browser, deployment, theme):
    org = organization(deployment, theme)
    alice = deployment.accounts["users"]["alice"]
    context = browser.new_context(
        viewport=VIEWPORTS["desktop"], locale="en-US", reduced_motion="reduce"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    shooter = Shooter(page, theme)
    try:
        page.goto(f"{org['url']}/login")
        expect(page.locator("#page-title")).to_contain_text(org["display_name"])
        shooter.each_locale("sign-in", page.url)

        page.goto(with_lang(page.url, "en"))
        page.locator("#identifier").fill(alice["email"])
        page.locator("#submit").click()
        expect(page.locator("#password")).to_be_visible()
        shooter.each_locale("password", page.url)

        page.goto(with_lang(page.url, "en"))
        page.locator("#password").fill(alice["password"])
        page.locator("#submit").click()
        page.wait_for_url(lambda url: "/login/password" not in url)
        page.goto(f"{org['url']}/account/password")
        expect(page.locator("#current_password")).to_be_visible()
        shooter.each_locale("change-password", page.url)

        page.goto(f"{org['url']}/login?tx=expired-sign-in")
        expect(page.locator("#error-reference")).to_be_visible()
        shooter.each_locale("error", page.url)
    finally:
        context.close()
    assert len(list(SCREENSHOTS.glob(f"{theme}-*.png"))) >= 16
    assert shooter.violations == []


@pytest.mark.parametrize("theme", THEMES)
def test_keyboard_reaches_the_form_with_a_visible_focus(page, deployment, theme):
    org = organization(deployment, theme)
    page.goto(f"{org['url']}/login")
    expect(page.locator("#identifier")).to_be_focused()  # autofocus
    page.keyboard.press("Tab")
    expect(page.locator("#submit")).to_be_focused()
    outline = page.locator("#submit").evaluate(
        "el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth"
    )
    assert outline.split()[0] != "none" and outline.split()[1] != "0px", outline
