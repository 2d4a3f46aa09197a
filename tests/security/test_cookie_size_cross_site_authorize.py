"""A hostile page cannot sign a user out or block sign-in through ``/authorize``.

Sign-in transactions live on the server and the cookie holds one small browser key, so
whatever an authorization request carries (long, non-ASCII ``state`` and ``nonce``, many
requests) the cookie stays far below the 4 KB browsers keep. A cross-site POST arrives
without the ``SameSite=Lax`` cookie: its answer never sets one, which would replace the
browser's own and its SSO session. Over-long values are refused in bytes.
"""

from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from app.db import session
from app.db import utcnow
from app.login import flow
from app.sessions.models import LoginTransactionRow
from app.testing import CLIENT_REDIRECT_URI
from app.testing import USER_PASSWORD
from app.testing import authorize
from app.testing import host_client
from app.testing import login
from app.testing import pkce_pair
from app.testing import sign_in

BROWSER_COOKIE_LIMIT = 4096


def huge_request(client_model, **params):
    """An authorization request whose values are as long as the caps allow, in characters
    that take several bytes (and six in JSON's ``\\u`` escapes)."""
    _verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_model.client_id,
        "redirect_uri": CLIENT_REDIRECT_URI,
        "scope": "openid profile email",
        "state": "é" * 512,  # 1024 bytes
        "nonce": "ü" * 256,  # 512 bytes
        "login_hint": "ö" * 160,  # 320 bytes
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    query.update(params)
    return query


def set_cookie_headers(response, name):
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]


def transactions():
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(LoginTransactionRow))


def test_cross_site_posts_to_authorize_never_replace_the_session_cookie(
    foyer_app, client, user, oidc_client
):
    model, _secret = oidc_client
    name = foyer_app.config["SESSION_COOKIE_NAME"]
    sign_in(client, user)
    hostile = host_client(foyer_app)  # the victim's browser, minus the Lax cookie
    sizes = set()
    for _ in range(30):
        answer = hostile.post(
            "/authorize", data=huge_request(model, state=secrets.token_urlsafe(8) + "é" * 400)
        )
        assert answer.status_code == 302
        assert not set_cookie_headers(answer, name)  # nothing to overwrite the victim's with
        # the browser follows the redirect with a top-level GET, which carries the cookie
        page = client.get(answer.headers["Location"])
        assert page.status_code == 200
        for header in page.headers.getlist("Set-Cookie"):
            assert len(header) < BROWSER_COOKIE_LIMIT
        sizes.add(len(client.get_cookie(name, domain="login.test").value))
    assert len(sizes) == 1 and sizes.pop() < 400  # the session, a browser key; no sign-in data
    assert client.get("/account").status_code == 200  # still signed in
    assert authorize(client, model)["code"]


def test_same_site_requests_keep_the_cookie_small_whatever_they_carry(
    foyer_app, client, user, oidc_client
):
    model, _secret = oidc_client
    name = foyer_app.config["SESSION_COOKIE_NAME"]
    sizes = set()
    for _ in range(20):
        answer = client.get("/authorize", query_string=huge_request(model))
        assert answer.status_code == 302
        client.get(answer.headers["Location"])
        sizes.add(len(client.get_cookie(name, domain="login.test").value))
    assert len(sizes) == 1 and sizes.pop() < 400  # the browser key, set once
    assert transactions() == 20
    # every one of them still works, and signing in goes to the application
    answer = client.get("/authorize", query_string=huge_request(model, login_hint=None))
    tx = parse_qs(urlsplit(answer.headers["Location"]).query)["tx"][0]
    done = login(client, "alice@example.com", USER_PASSWORD, tx=tx)
    assert done.status_code == 303
    assert done.headers["Location"].startswith(model.redirect_uris[0] + "?code=")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("state", "é" * 513),  # 513 characters, 1026 bytes
        ("nonce", "n" * 513),
        ("login_hint", "ß" * 161),
        ("ui_locales", "x" * 65),
        ("acr_values", "a" * 256),
        ("organization", "o" * 101),
        ("scope", "openid " + "s" * 1020),
        ("prompt", "login " * 11),
    ],
)
def test_over_long_values_go_back_to_the_client_as_invalid_request(
    client, user, oidc_client, name, value
):
    model, _secret = oidc_client
    answer = client.get("/authorize", query_string=huge_request(model, **{name: value}))
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(CLIENT_REDIRECT_URI + "?")
    got = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert got["error"] == "invalid_request"
    assert name in got["error_description"]
    assert transactions() == 0  # nothing stored


def test_over_long_values_with_an_untrusted_redirect_uri_get_the_error_page(
    client, user, oidc_client
):
    model, _secret = oidc_client
    query = huge_request(model, state="s" * 5000, redirect_uri="https://evil.test/cb")
    answer = client.get("/authorize", query_string=query)
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert transactions() == 0


def test_a_transaction_works_only_in_the_browser_that_opened_it(
    foyer_app, client, user, oidc_client
):
    model, _secret = oidc_client
    answer = client.get("/authorize", query_string=huge_request(model, login_hint=None))
    location = answer.headers["Location"]
    assert client.get(location).status_code == 200  # bound to this browser
    other = host_client(foyer_app)
    stolen = other.get(location)
    assert stolen.status_code == 400
    assert 'id="error-title">Your sign-in expired' in stolen.get_data(as_text=True)
    assert client.get(location).status_code == 200


def test_expired_transactions_are_pruned(foyer_app, client, oidc_client):
    model, _secret = oidc_client
    client.get("/authorize", query_string=huge_request(model))
    session.execute(
        sa.update(LoginTransactionRow).values(expires_at=utcnow() - dt.timedelta(seconds=1))
    )
    session.commit()
    foyer_app.extensions.pop("foyer.sessions.transactions_pruned_at", None)
    client.get("/authorize", query_string=huge_request(model))
    assert transactions() == 1


def test_cross_site_posts_to_the_hosted_pages_do_not_touch_the_cookie(foyer_app, client, user):
    name = foyer_app.config["SESSION_COOKIE_NAME"]
    login(client, "alice@example.com", USER_PASSWORD)
    hostile = host_client(foyer_app)
    for path in ("/logout", "/login", "/login/password", "/oidc/logout", "/account/mfa/disable"):
        answer = hostile.post(path, data={"identifier": "x@y.test"})
        assert not set_cookie_headers(answer, name), path
    assert client.get("/account").status_code == 200


def test_the_session_cookie_has_the_host_prefix_over_https(foyer_app, client, user):
    page = client.get("/login", follow_redirects=True)
    assert page.status_code == 200
    [header] = [h for h in page.headers.getlist("Set-Cookie") if "foyer_session" in h]
    assert header.startswith("__Host-foyer_session=")
    attributes = [part.strip().lower() for part in header.split(";")[1:]]
    assert "secure" in attributes and "httponly" in attributes
    assert "path=/" in attributes and "samesite=lax" in attributes
    assert not any(a.startswith("domain=") for a in attributes)


def test_the_transaction_store_keeps_no_cookie_data(foyer_app, client, oidc_client):
    model, _secret = oidc_client
    answer = client.get("/authorize", query_string=huge_request(model))
    tx_id = parse_qs(urlsplit(answer.headers["Location"]).query)["tx"][0]
    client.get(answer.headers["Location"])
    with client.session_transaction() as cookie:
        assert set(cookie) <= {"login_browser", "csrf_token", "_permanent"}
    with foyer_app.test_request_context("/login", base_url="https://login.test"):
        assert flow.load(tx_id) is None  # this request context is another browser
