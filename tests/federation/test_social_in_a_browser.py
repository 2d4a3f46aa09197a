"""A real Chromium on an organization's login page with social buttons: it presses
"Continue with GitHub", goes through GitHub's stand-in and comes back signed in to the
application; and the buttons look right (logo shown, inside the card, logo on the reading
side) in every shipped theme, left-to-right and right-to-left. With ``FOYER_SCREENSHOTS``
set, the pictures are kept there."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import typing as t
from pathlib import Path
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from app.clients.services import create_client
from app.connections.services import create_connection
from app.db import session
from app.orgs.services import create_organization
from app.tenancy.services import create_tenant
from app.testing import pkce_pair
from tests.federation.github_api import CLIENT_SECRET as GITHUB_SECRET
from tests.federation.github_api import GitHub

CHROMIUM = os.environ.get("FOYER_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
THEMES = ("default", "ember", "nocturne", "harbor")


@pytest.fixture
def foyer_config(foyer_config: dict[str, t.Any]) -> dict[str, t.Any]:
    return {**foyer_config, "secure_cookies": False}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def application(environ: t.Any, start_response: t.Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the application"]


@pytest.fixture
def github():
    server = GitHub()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def foyer(foyer_app, github):
    """Foyer on http://localhost:PORT; organization ``<theme>-org`` per shipped theme, each
    with a password connection and the three social presets (shared by them: a shared
    pool), and ``community`` whose own GitHub connection creates its users."""
    port = free_port()
    tenant = create_tenant("web", "Web", [f"http://localhost:{port}"])
    staff = create_connection(tenant, "staff", "database", "Staff accounts")
    google = create_connection(
        tenant,
        "google",
        "google",
        "Google",
        options={"client_id": "g"},
        secrets={"client_secret": "s"},
    )
    microsoft = create_connection(
        tenant,
        "microsoft",
        "microsoft",
        "Microsoft",
        options={"client_id": "m"},
        secrets={"client_secret": "s"},
    )
    hub = create_connection(
        tenant,
        "github",
        "github",
        "GitHub",
        options=github.options(),
        secrets={"client_secret": GITHUB_SECRET},
    )
    for theme in THEMES:
        create_organization(
            tenant,
            f"{theme}-org",
            f"Initech {theme.title()}",
            connections=[staff, google, microsoft, hub],
            theme=None if theme == "default" else theme,
        )
    community_github = create_connection(
        tenant,
        "community-github",
        "github",
        "GitHub",
        options=github.options(),
        secrets={"client_secret": GITHUB_SECRET},
    )
    create_organization(tenant, "community", "Initech Community", connections=[community_github])
    app_server = make_server("127.0.0.1", free_port(), application, threaded=True)
    threading.Thread(target=app_server.serve_forever, daemon=True).start()
    callback = f"http://127.0.0.1:{app_server.server_port}/callback"
    client, _secret = create_client(tenant, "Initech app", redirect_uris=[callback])
    session.commit()
    server = make_server("127.0.0.1", port, foyer_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{port}", client
    for running in (server, app_server):
        running.shutdown()
        running.server_close()


@pytest.fixture
def chromium():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def authorize_url(base: str, client: t.Any, organization: str, lang: str = "en") -> str:
    _verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uris[0],
        "scope": "openid email",
        "state": "browser",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "organization": organization,
        "ui_locales": lang,
    }
    return f"{base}/authorize?{urlencode(query)}"


def test_a_browser_presses_the_github_button_and_comes_back_signed_in(foyer, github, chromium):
    base, client = foyer
    github.user(
        "octocat",
        583231,
        "The Octocat",
        [{"email": "octo@example.com", "primary": True, "verified": True}],
    )
    github.default_login = "octocat"
    page = chromium.new_page(locale="en-US")
    page.set_default_timeout(15_000)
    page.goto(authorize_url(base, client, "community"))
    button = page.get_by_role("button", name="Continue with GitHub")
    button.click()
    page.wait_for_url(f"{client.redirect_uris[0]}**")
    assert page.locator("body").inner_text() == "the application"
    answer = dict(parse_qsl(urlsplit(page.url).query))
    assert answer["state"] == "browser" and answer["code"]
    assert ("GET", "/api/user/emails") in github.requests


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize("theme", THEMES)
def test_the_social_buttons_look_right(foyer, chromium, tmp_path, theme, lang):
    base, client = foyer
    folder = Path(os.environ.get("FOYER_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page = chromium.new_page(
        locale="ar" if lang == "ar" else "en-US", viewport={"width": 1100, "height": 900}
    )
    page.goto(authorize_url(base, client, f"{theme}-org", lang))
    card = page.locator("#login-connection-form").bounding_box()
    assert card is not None
    rtl = page.evaluate("document.documentElement.dir") == "rtl"
    assert rtl == (lang == "ar")
    for name in ("google", "microsoft", "github"):
        button = page.locator(f"#connection-{name}")
        logo = button.locator("img.button__logo")
        assert logo.evaluate("img => img.complete && img.naturalWidth > 0"), (theme, name)
        box, logo_box = button.bounding_box(), logo.bounding_box()
        text_box = button.locator("span").bounding_box()
        assert box and logo_box and text_box
        assert (
            card["x"] - 1 <= box["x"] and box["x"] + box["width"] <= card["x"] + card["width"] + 1
        )
        assert 18 <= logo_box["width"] <= 28 and logo_box["height"] == logo_box["width"]
        # the logo sits before the words in reading order, and on the same line
        assert (logo_box["x"] > text_box["x"]) if rtl else (logo_box["x"] < text_box["x"])
        assert (
            abs((logo_box["y"] + logo_box["height"] / 2) - (text_box["y"] + text_box["height"] / 2))
            < 6
        )
    tops = [
        page.locator(f"#connection-{n}").bounding_box()["y"]
        for n in ("google", "microsoft", "github")
    ]
    assert (
        tops == sorted(tops) and min(b - a for a, b in zip(tops, tops[1:], strict=False)) > 40
    )  # not overlapping
    page.screenshot(path=str(folder / f"social-buttons-{theme}-{lang}.png"), full_page=True)
