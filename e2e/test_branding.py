"""Each example theme in a real browser: screenshots and an accessibility scan.

Screenshots of the sign-in, password and error pages of every organization theme, in
English and Arabic (right to left), at desktop and mobile widths, are kept under
``e2e-artifacts/screenshots/``. axe-core scans the same pages: no serious or critical
violation is allowed. The organizations come from the accounts file (``organizations``:
theme -> {name, display_name, url}); e2e/seed_branding.py seeds them locally.
"""

from __future__ import annotations

import typing as t

import pytest
from playwright.sync_api import expect

from e2e.conftest import ARTIFACTS

SCREENSHOTS = ARTIFACTS / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 820}, "mobile": {"width": 390, "height": 844}}
LOCALES = ("en", "ar")
THEMES = ("ember", "nocturne", "harbor")
BLOCKING = frozenset({"serious", "critical"})


def organization(deployment: t.Any, theme: str) -> dict[str, str]:
    organizations = deployment.accounts.get("organizations") or {}
    if theme not in organizations:
        pytest.skip(f"the accounts file names no organization with the {theme} theme")
    return t.cast(dict[str, str], organizations[theme])


def open_pages(page: t.Any, org: dict[str, str], locale: str) -> t.Iterator[str]:
    """Visit the sign-in, password and error pages in turn; yields each page's name."""
    page.goto(f"{org['url']}/login?lang={locale}")
    expect(page.locator("html")).to_have_attribute("lang", locale)
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if locale == "ar" else "ltr")
    expect(page.locator("#page-title")).to_contain_text(org["display_name"])
    yield "sign-in"
    page.locator("#identifier").fill("someone@example.test")
    page.locator("#submit").click()
    expect(page.locator("#password")).to_be_visible()
    yield "password"
    page.goto(f"{org['url']}/login?tx=expired-sign-in&lang={locale}")
    expect(page.locator("#error-title")).to_be_visible()
    expect(page.locator("#error-reference")).to_be_visible()
    yield "error"


@pytest.fixture
def themed_page(browser: t.Any, request: pytest.FixtureRequest) -> t.Iterator[t.Callable]:
    contexts = []

    def make(viewport: str, locale: str) -> t.Any:
        context = browser.new_context(viewport=VIEWPORTS[viewport], locale=locale,
                                      reduced_motion="reduce")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.mark.parametrize("theme", THEMES)
def test_screenshots_of_each_theme(themed_page, deployment, theme):
    org = organization(deployment, theme)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for viewport in VIEWPORTS:
        for locale in LOCALES:
            page = themed_page(viewport, locale)
            for name in open_pages(page, org, locale):
                expect(page.locator("body")).to_have_class(f"theme-{theme} layout-"
                                                           + ("split" if theme == "ember"
                                                              else "card"))
                page.evaluate("document.fonts.ready")
                page.screenshot(path=str(SCREENSHOTS / f"{theme}-{name}-{locale}-{viewport}.png"),
                                full_page=True)
            page.close()
    assert len(list(SCREENSHOTS.glob(f"{theme}-*.png"))) >= 12


@pytest.mark.parametrize("theme", THEMES)
def test_no_serious_accessibility_violation(themed_page, deployment, theme):
    from axe_playwright_python.sync_playwright import Axe

    org = organization(deployment, theme)
    axe = Axe()
    found: list[str] = []
    for locale in LOCALES:
        page = themed_page("desktop", locale)
        for name in open_pages(page, org, locale):
            results = axe.run(page)
            for violation in results.response["violations"]:
                if violation.get("impact") in BLOCKING:
                    targets = [node["target"] for node in violation["nodes"]]
                    found.append(f"{theme} {name} {locale}: {violation['id']} "
                                 f"({violation['impact']}) {violation['help']} {targets}")
        page.close()
    assert found == []


@pytest.mark.parametrize("theme", THEMES)
def test_keyboard_reaches_the_form_with_a_visible_focus(themed_page, deployment, theme):
    org = organization(deployment, theme)
    page = themed_page("desktop", "en")
    page.goto(f"{org['url']}/login")
    expect(page.locator("#identifier")).to_be_focused()  # autofocus
    page.keyboard.press("Tab")
    expect(page.locator("#submit")).to_be_focused()
    outline = page.locator("#submit").evaluate(
        "el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
    assert outline.split()[0] != "none" and outline.split()[1] != "0px", outline
