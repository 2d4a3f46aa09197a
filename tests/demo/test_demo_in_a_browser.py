"""The demo as a visitor sees it: a real Chromium signs in to the demo application and out."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from app.demo.rp import create_rp_app
from app.demo.seed import DEMO_PASSWORD
from app.demo.seed import seed

from .conftest import free_port

CHROMIUM = os.environ.get("FOYER_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def page():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(locale="en-US")
        page.set_default_timeout(10_000)
        yield page
        browser.close()


def test_sign_in_and_out_of_the_demo_application(foyer_app, serve, page):
    port, rp_port = free_port(), free_port()
    demo = seed(foyer_app, port, rp_port)
    serve(foyer_app, port)
    serve(
        create_rp_app(
            demo.foyer_url, demo.client_id, demo.client_secret, organizations=demo.organizations
        ),
        rp_port,
    )

    page.goto(demo.rp_url)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_label("Email or username").fill("gina@globex.example")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.locator("#submit").click()

    page.wait_for_url(f"{demo.rp_url}/")
    assert page.locator("#welcome").inner_text() == "Hello, Gina Garnier"
    assert '"email": "gina@globex.example"' in page.locator("#claims").inner_text()
    assert '"sub"' in page.locator("#userinfo").inner_text()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{demo.rp_url}/?signed_out=1")
    assert page.locator("#signed-out").is_visible()
