"""A real Chromium signs in through a SAML connection: Foyer and the pysaml2 IdP each on
their own loopback site, so the IdP's POST to the ACS is cross-site and comes without
Foyer's SameSite=Lax cookie, exactly as in production. Also pictures of the page that
posts an AuthnRequest (POST binding, script off) and of the error page."""

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
import requests
from werkzeug.serving import make_server

from app.clients.services import create_client
from app.connections.services import create_connection
from app.db import session
from app.orgs.services import create_organization
from app.tenancy.services import create_tenant
from app.testing import pkce_pair

CHROMIUM = os.environ.get("FOYER_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def foyer_config(foyer_config: dict[str, t.Any]) -> dict[str, t.Any]:
    return {**foyer_config, "secure_cookies": False}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(app: t.Any) -> t.Any:
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def application(environ: t.Any, start_response: t.Any) -> list[bytes]:
    """The relying party's callback: it only says it was reached."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the application"]


@pytest.fixture
def foyer(foyer_app, idp):
    """Foyer on http://localhost:PORT with tenant ``web``: organization ``corp`` signs in
    through ``corp-saml`` (Redirect binding) or ``corp-post`` (POST binding)."""
    port = free_port()
    tenant = create_tenant("web", "Web", [f"http://localhost:{port}"])
    redirect = create_connection(
        tenant, "corp-saml", "saml", "Corp SSO", options={"idp_metadata_url": idp.metadata_url}
    )
    post = create_connection(
        tenant,
        "corp-post",
        "saml",
        "Corp SSO",
        options={"idp_metadata_url": idp.metadata_url, "binding": "post"},
    )
    organization = create_organization(tenant, "corp", "Corp Inc.")
    organization.connections.extend([redirect, post])
    app_server = serve(application)
    callback = f"http://127.0.0.1:{app_server.server_port}/callback"
    client, _secret = create_client(tenant, "Corp app", redirect_uris=[callback])
    session.commit()
    server = make_server("127.0.0.1", port, foyer_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://localhost:{port}"
    yield base, client
    for running in (server, app_server):
        running.shutdown()
        running.server_close()


def authorize_url(base: str, client: t.Any, connection: str) -> str:
    _verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uris[0],
        "scope": "openid email",
        "state": "browser",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "connection": connection,
    }
    return f"{base}/authorize?{urlencode(query)}"


@pytest.fixture
def chromium():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def shots() -> Path | None:
    folder = os.environ.get("FOYER_SCREENSHOTS")
    return Path(folder) if folder else None


def test_a_browser_signs_in_through_the_saml_idp_and_back(foyer, idp, chromium):
    base, client = foyer
    # the first request of a new server loads the SAML schemas: slow on a busy machine
    idp.trust(requests.get(f"{base}/saml/corp-saml/metadata", timeout=60).text)
    page = chromium.new_page(locale="en-US")
    page.set_default_timeout(15_000)
    callback = client.redirect_uris[0]
    page.goto(authorize_url(base, client, "corp-saml"))
    page.wait_for_url(f"{callback}**")
    assert page.locator("body").inner_text() == "the application"
    answer = dict(parse_qsl(urlsplit(page.url).query))
    assert answer["state"] == "browser" and answer["code"]


def test_post_binding_page_and_the_error_page_as_a_person_sees_them(foyer, idp, chromium, tmp_path):
    base, client = foyer
    idp.trust(requests.get(f"{base}/saml/corp-post/metadata", timeout=60).text)
    folder = shots() or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    still = chromium.new_context(locale="en-US", java_script_enabled=False)
    page = still.new_page()
    page.goto(authorize_url(base, client, "corp-post"))
    assert page.locator("#page-title").inner_text() == "Continuing to your identity provider"
    page.screenshot(path=str(folder / "saml-post-binding.png"), full_page=True)
    still.close()

    idp.refuse = True
    page = chromium.new_page(locale="fr-FR")
    page.set_default_timeout(15_000)
    page.goto(authorize_url(base, client, "corp-post"))
    page.wait_for_selector("#error-reference")
    assert "/saml/corp-post/acs" in page.url
    page.screenshot(path=str(folder / "saml-error-page.png"), full_page=True)
    assert (folder / "saml-error-page.png").stat().st_size > 1000
