"""A real Chromium on the page of an organization with a password connection and its
company IdP side by side: the IdP's button goes to the IdP (npm's oidc-provider) and comes
back signed in; the password form beside it signs in a password user."""

from __future__ import annotations

import threading
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from app.accounts.services import create_user
from app.clients.services import create_client
from app.connections.services import create_connection
from app.db import session
from app.orgs.services import create_organization
from app.tenancy.services import create_tenant
from tests.federation.test_social_in_a_browser import application
from tests.federation.test_social_in_a_browser import authorize_url
from tests.federation.test_social_in_a_browser import chromium  # noqa: F401 - the fixture
from tests.federation.test_social_in_a_browser import foyer_config  # noqa: F401 - the fixture
from tests.federation.test_social_in_a_browser import free_port
from tests.federation.upstream_idp import CLIENT_SECRET
from tests.federation.upstream_idp import UpstreamIdp
from tests.federation.upstream_idp import missing
from tests.federation.upstream_idp import unavailable


@pytest.fixture
def site(foyer_app, tmp_path):
    why = missing()
    if why:
        unavailable(why)
    port = free_port()
    idp = UpstreamIdp(tmp_path / "idp", callbacks=[f"http://localhost:{port}/login/callback"])
    tenant = create_tenant("web", "Web", [f"http://localhost:{port}"])
    staff = create_connection(tenant, "globex-staff", "database", "Globex staff")
    sso = create_connection(
        tenant,
        "globex-sso",
        "oidc",
        "Globex SSO",
        options=idp.options(),
        secrets={"client_secret": CLIENT_SECRET},
    )
    create_organization(tenant, "globex", "Globex Corporation", connections=[staff, sso])
    user = create_user(staff, email="pat@globex.example", password="a long enough passphrase 42")
    user.email_verified = True
    app_server = make_server("127.0.0.1", free_port(), application, threaded=True)
    threading.Thread(target=app_server.serve_forever, daemon=True).start()
    callback = f"http://127.0.0.1:{app_server.server_port}/callback"
    client, _secret = create_client(tenant, "Globex app", redirect_uris=[callback])
    session.commit()
    server = make_server("127.0.0.1", port, foyer_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{port}", client, idp
    for running in (server, app_server):
        running.shutdown()
        running.server_close()
    idp.stop()


def test_the_company_idp_and_the_password_form_side_by_side(site, chromium):  # noqa: F811
    base, client, idp = site
    idp.person("lee", email="lee@globex.example", email_verified=True, name="Lee")
    page = chromium.new_page(locale="en-US")
    page.set_default_timeout(20_000)
    page.goto(authorize_url(base, client, "globex"))
    assert page.locator("#login-identifier-form").is_visible()  # the password side
    page.get_by_role("button", name="Continue with Globex SSO").click()
    page.wait_for_url(f"{idp.issuer}/**")
    page.locator("input[name=login]").fill("lee")
    page.locator("input[name=password]").fill("the IdP checks its own passwords")
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{client.redirect_uris[0]}**")
    assert dict(parse_qsl(urlsplit(page.url).query))["code"]

    other = chromium.new_page(locale="en-US")
    other.set_default_timeout(20_000)
    other.goto(authorize_url(base, client, "globex"))
    assert other.get_by_role("button", name="Continue with Globex SSO").is_visible()
    other.locator("#identifier").fill("pat@globex.example")
    other.locator("#submit").click()
    other.locator("#password").fill("a long enough passphrase 42")
    other.locator("#submit").click()
    other.wait_for_url(f"{client.redirect_uris[0]}**")
    assert dict(parse_qsl(urlsplit(other.url).query))["code"]
