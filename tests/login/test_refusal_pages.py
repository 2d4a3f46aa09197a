"""A refusal is never a dead end: the membership refusal offers another account and the way
back to the application (which learns why), the closed sign-up links to signing in, and a
form sent over http to a Foyer with Secure cookies says what is wrong."""

from __future__ import annotations

import re
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from app.testing import USER_PASSWORD
from app.testing import FlowStopped
from app.testing import host_client
from app.testing import run_authorization_code_flow


def link(page, element_id: str) -> str:
    found = re.search(rf'id="{element_id}" href="([^"]+)"', page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)
    return found.group(1).replace("&amp;", "&")


def test_the_membership_refusal_leads_on(
    client, make_connection, make_organization, make_user, oidc_client
):
    pool = make_connection("pool")
    make_organization("globex", connections=[pool])
    make_organization("initech", connections=[pool])
    make_user(email="carla@example.com", connection_=pool, email_verified=True)
    app, secret = oidc_client
    with pytest.raises(FlowStopped) as stopped:
        run_authorization_code_flow(
            client, app, secret, "carla@example.com", USER_PASSWORD, organization="globex"
        )
    page = stopped.value.response
    body = page.get_data(as_text=True)
    assert "not a member of Globex" in body
    again = client.get(link(page, "sign-in-again"))
    assert again.status_code == 200 and 'id="login-identifier-form"' in again.get_data(as_text=True)
    back = client.get(link(page, "back-to-application"))
    assert back.status_code == 303
    answer = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["Location"]).query).items()}
    assert back.headers["Location"].startswith("https://app.test/callback?")
    assert answer["error"] == "access_denied"
    assert answer["error_description"] == "not_a_member"
    assert answer["state"]


def test_going_back_sends_only_a_rule_code(client, make_login_tx, oidc_client):
    app, _secret = oidc_client
    tx = make_login_tx(
        params={"redirect_uri": "https://app.test/callback", "state": "s"}, app_client=app
    )
    client.get(f"/login?tx={tx}")
    back = client.get(f"/authorize/cancel?tx={tx}&refused=<script>")
    answer = parse_qs(urlsplit(back.headers["Location"]).query)
    assert answer["error"] == ["access_denied"] and "<script>" not in str(answer)
    assert client.get(f"/authorize/cancel?tx={tx}").status_code == 400  # used once


def test_closed_sign_up_links_to_signing_in(client, tenant):
    page = client.get("/signup")
    assert page.status_code == 403
    assert link(page, "sign-in") == "/login"


def test_a_form_over_http_with_secure_cookies_says_why_it_expired(foyer_app, tenant):
    over_http = host_client(foyer_app, "login.test", scheme="http")
    page = over_http.post("/login", data={"identifier": "a@example.com"})
    body = page.get_data(as_text=True)
    assert page.status_code == 400 and "Your form expired" in body
    assert "FOYER_SECURE_COOKIES=false" in body
    over_https = host_client(foyer_app).post("/login", data={"identifier": "a@example.com"})
    assert "FOYER_SECURE_COOKIES" not in over_https.get_data(as_text=True)
