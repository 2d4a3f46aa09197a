"""Signing in through a customer's OpenID Connect IdP (a real one: npm's oidc-provider)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import urljoin

import pytest
import requests
import sqlalchemy as sa
from joserfc.jwk import RSAKey

from app.accounts.models import Identity
from app.db import session
from app.sessions.models import LoginTransactionRow
from app.testing import host_client
from tests.federation.conftest import authorize
from tests.federation.conftest import callback
from tests.federation.conftest import come_back
from tests.federation.conftest import exchange
from tests.federation.conftest import follow
from tests.federation.conftest import follow_connection
from tests.federation.conftest import press
from tests.federation.conftest import start_by_email
from tests.federation.conftest import text
from tests.federation.conftest import upstream_params
from tests.federation.conftest import upstream_url
from tests.federation.conftest import users_of
from tests.federation.upstream_idp import CLIENT_SECRET
from tests.federation.upstream_idp import at_foyer


def test_first_sign_in_creates_the_user_and_later_ones_refresh_it(
    client, realm, idp, app_client, recorded_events
):
    idp.person(
        "ada-001",
        email="ada@acme.example",
        email_verified=True,
        name="Ada Lovelace",
        given_name="Ada",
        family_name="Lovelace",
        locale="en-GB",
        groups=["engineering", "admins"],
    )
    app, secret = app_client
    redirected, request = start_by_email(client, app, "ada@acme.example")
    params = upstream_params(redirected)
    assert params["login_hint"] == "ada@acme.example"
    assert params["code_challenge_method"] == "S256" and params["nonce"] and params["state"]
    assert params["redirect_uri"] == "https://login.test/login/callback"
    tokens = exchange(
        client, secret, request, callback(come_back(client, idp, redirected, "ada-001"), request)
    )
    [user] = users_of(realm.acme_sso)
    assert (user.email, user.email_verified, user.name, user.locale) == (
        "ada@acme.example",
        True,
        "Ada Lovelace",
        "en-GB",
    )
    assert user.app_metadata["groups"] == ["engineering", "admins"]
    [identity] = user.identities
    assert (identity.connection_id, identity.subject) == (realm.acme_sso.id, "ada-001")
    assert tokens.id_token["sub"] == user.id
    assert tokens.id_token["org_name"] == "acme"
    [created] = recorded_events("user_created")
    assert created.data["via"] == "upstream"
    assert "fed" in recorded_events("login_succeeded")[0].data["amr"]

    # the IdP renames her and moves her to another group: the next sign-in refreshes
    idp.person(
        "ada-001",
        email="ada@acme.example",
        email_verified=True,
        name="Ada King",
        groups=["research"],
    )
    browser = host_client(client.application)  # another browser, same person
    redirected, request = start_by_email(browser, app, "ada@acme.example")
    again = exchange(
        browser, secret, request, callback(come_back(browser, idp, redirected, "ada-001"), request)
    )
    assert again.id_token["sub"] == tokens.id_token["sub"]  # the subject is the key
    session.expire_all()
    [user] = users_of(realm.acme_sso)
    assert user.name == "Ada King" and user.app_metadata["groups"] == ["research"]
    assert len(recorded_events("user_created")) == 1


@pytest.mark.parametrize(
    ("client_id", "method", "secrets"),
    [
        ("foyer-basic", "client_secret_basic", "secret"),
        ("foyer-post", "client_secret_post", "secret"),
        ("foyer-pkjwt", "private_key_jwt", "key"),
    ],
)
def test_every_client_authentication_method(
    client, tenant, idp, app_client, make_connection, make_organization, client_id, method, secrets
):
    connection = make_connection(
        "corp-sso",
        "oidc",
        options=idp.options(client_id, auth_method=method, private_key_kid="foyer-client"),
        secrets={"client_secret": CLIENT_SECRET}
        if secrets == "secret"
        else {"private_key": idp.client_key_pem},
    )
    make_organization("corp", "Corp", connections=[connection])
    idp.person("bob", email="bob@corp.example", email_verified=True)
    app, secret = app_client
    page = client.get(
        "/authorize",
        query_string={
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uris[0],
            "scope": "openid",
            "connection": "corp-sso",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )
    landed = come_back(client, idp, follow(client, page), "bob")
    assert landed.status_code in (302, 303) and landed.headers["Location"].startswith(
        app.redirect_uris[0]
    )
    [user] = users_of(connection)
    assert user.email == "bob@corp.example"


def test_claim_mapping_userinfo_and_app_metadata(
    client, tenant, idp, app_client, make_connection, make_organization
):
    connection = make_connection(
        "mapped-sso",
        "oidc",
        options=idp.options(
            scope="openid profile email department",
            userinfo=True,
            mapping={"name": "nickname_missing", "email_verified": None},
            app_metadata={"department": "department"},
            assume_email_verified=True,
        ),
        secrets={"client_secret": CLIENT_SECRET},
    )
    make_organization("mapped", "Mapped", connections=[connection])
    idp.person("cy", email="cy@mapped.example", name="Cy", department="Finance")
    app, _secret = app_client
    page = client.get(
        "/authorize",
        query_string={
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uris[0],
            "scope": "openid",
            "connection": "mapped-sso",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )
    come_back(client, idp, follow(client, page), "cy")
    [user] = users_of(connection)
    assert user.name is None  # mapped to a claim the IdP does not send
    assert user.email_verified is True  # the connection says its IdP verifies addresses
    assert user.app_metadata["department"] == "Finance"  # from userinfo
    [identity] = user.identities
    assert identity.profile["department"] == "Finance"


def test_access_denied_upstream_is_a_branded_page_and_nothing_is_created(
    client, realm, idp, app_client, recorded_events
):
    idp.person("eve", email="eve@acme.example", email_verified=True)
    redirected, _request = start_by_email(client, app_client[0], "eve@acme.example")
    page = come_back(client, idp, redirected, None)
    assert page.status_code == 403
    body = text(page)
    assert 'id="error-title"' in body and "help@acme.example" in body  # acme's support
    [failed] = recorded_events("upstream_failed")
    assert failed.data["code"] == "access_denied"
    assert failed.id in body or recorded_events("error_shown")[0].id in body
    assert users_of(realm.acme_sso) == []


def test_the_page_is_in_the_users_language(client, realm, idp, app_client):
    idp.person("eve", email="eve@acme.example", email_verified=True)
    redirected, _request = start_by_email(
        client, app_client[0], "eve@acme.example", ui_locales="fr"
    )
    assert upstream_params(redirected)["ui_locales"] == "fr"
    page = come_back(client, idp, redirected, None)
    assert 'lang="fr"' in text(page) and "help@acme.example" in text(page)


def test_upstream_down(
    client, tenant, app_client, make_connection, make_organization, recorded_events
):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    connection = make_connection(
        "down-sso",
        "oidc",
        options={"issuer": f"http://127.0.0.1:{port}", "client_id": "x", "timeout": 1},
        secrets={"client_secret": "s"},
    )
    make_organization(
        "down", "Down", connections=[connection], branding={"support_email": "it@down.example"}
    )
    page = follow_connection(client, app_client[0], "down-sso")
    assert page.status_code == 503 and "it@down.example" in text(page)
    assert recorded_events("upstream_failed")[0].data["code"] == "upstream_unavailable"


def test_upstream_slow_times_out(
    client, tenant, app_client, make_connection, make_organization, recorded_events
):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    connection = make_connection(
        "slow-sso",
        "oidc",
        options={
            "issuer": f"http://127.0.0.1:{server.getsockname()[1]}",
            "client_id": "x",
            "timeout": 1,
        },
        secrets={"client_secret": "s"},
    )
    make_organization("slow", "Slow", connections=[connection])
    started = time.monotonic()
    try:
        page = follow_connection(client, app_client[0], "slow-sso")
    finally:
        server.close()
    assert time.monotonic() - started < 5
    assert page.status_code == 503
    assert "ReadTimeout" in recorded_events("upstream_failed")[0].data["detail"]


def test_misconfigured_issuer(
    client, tenant, idp, app_client, make_connection, make_organization, recorded_events
):
    connection = make_connection(
        "typo-sso",
        "oidc",
        options={"issuer": idp.issuer + "/", "client_id": "foyer-basic"},  # a trailing slash
        secrets={"client_secret": CLIENT_SECRET},
    )
    make_organization("typo", "Typo", connections=[connection])
    page = follow_connection(client, app_client[0], "typo-sso")
    assert page.status_code == 502
    [failed] = recorded_events("upstream_failed")
    assert failed.data["code"] == "upstream_misconfigured" and "issuer" in failed.data["detail"]


def test_wrong_client_secret_is_misconfigured_and_creates_nothing(
    client, tenant, idp, app_client, make_connection, make_organization, recorded_events
):
    connection = make_connection(
        "bad-secret", "oidc", options=idp.options(), secrets={"client_secret": "wrong"}
    )
    make_organization("bad", "Bad", connections=[connection])
    idp.person("fay", email="fay@bad.example", email_verified=True)
    page = come_back(client, idp, follow_connection(client, app_client[0], "bad-secret"), "fay")
    assert page.status_code == 502
    assert recorded_events("upstream_failed")[0].data["detail"] == "token: invalid_client"
    assert users_of(connection) == []


def test_state_is_accepted_only_in_its_own_browser_and_once(
    client, realm, idp, app_client, recorded_events
):
    idp.person("gus", email="gus@acme.example", email_verified=True)
    redirected, _request = start_by_email(client, app_client[0], "gus@acme.example")
    answer = idp.sign_in(upstream_url(redirected), "gus")
    victim = host_client(client.application)  # login CSRF: the answer sent to someone else
    refused = victim.get(at_foyer(answer))
    assert refused.status_code == 400 and 'id="error-title"' in text(refused)
    assert users_of(realm.acme_sso) == []
    tampered = answer.replace("state=", "state=x")
    assert client.get(at_foyer(tampered)).status_code == 400
    assert client.get(at_foyer(answer)).status_code in (302, 303)  # the owner, once
    assert client.get(at_foyer(answer)).status_code == 400  # never twice
    assert len(users_of(realm.acme_sso)) == 1


def test_prompt_login_max_age_and_login_hint_are_passed_upstream(client, realm, idp, app_client):
    idp.person("hal", email="hal@acme.example", email_verified=True)
    app, secret = app_client
    at_idp = requests.Session()  # the person's browser cookies at the IdP
    client.idp_session = at_idp
    redirected, request = start_by_email(client, app, "hal@acme.example")
    exchange(client, secret, request, callback(come_back(client, idp, redirected, "hal"), request))

    # signed in at the IdP: without prompt=login it answers at once (no form)
    fresh = host_client(client.application)
    redirected, _request = start_by_email(fresh, app, "hal@acme.example")
    assert "prompt" not in upstream_params(redirected)
    back = at_idp.get(upstream_url(redirected), allow_redirects=False)
    for _ in range(5):
        if back.status_code not in (302, 303) or "login/callback" in back.headers["Location"]:
            break
        back = at_idp.get(urljoin(back.url, back.headers["Location"]), allow_redirects=False)
    assert "login/callback?code=" in back.headers["Location"]

    fresh = host_client(client.application)
    redirected, _request = start_by_email(
        fresh, app, "hal@acme.example", prompt="login", max_age="0"
    )
    params = upstream_params(redirected)
    assert params["prompt"] == "login" and params["max_age"] == "0"
    assert params["login_hint"] == "hal@acme.example"
    form = at_idp.get(upstream_url(redirected), allow_redirects=True)
    assert 'name="login"' in form.text  # the IdP asks again


def test_a_saved_transaction_keeps_no_secret_after_the_answer(client, realm, idp, app_client):
    idp.person("ida", email="ida@acme.example", email_verified=True)
    redirected, _request = start_by_email(client, app_client[0], "ida@acme.example")
    tx_id = upstream_params(redirected)["state"].split(".")[0]
    back = idp.sign_in(upstream_url(redirected), "ida")
    client.get(at_foyer(back))
    session.expire_all()
    row = session.get(LoginTransactionRow, tx_id)
    assert row is None or not row.data.get("upstream")


def test_identity_rows_are_keyed_by_subject(client, realm, idp, app_client):
    idp.person("jo", email="jo@acme.example", email_verified=True)
    redirected, _r = start_by_email(client, app_client[0], "jo@acme.example")
    come_back(client, idp, redirected, "jo")
    assert session.scalar(sa.select(Identity.subject)) == "jo"


def test_an_answer_naming_another_issuer_is_refused(
    client, realm, idp, app_client, recorded_events
):
    """RFC 9207: an answer whose ``iss`` is not the connection's IdP (a mix-up attack)."""
    idp.person("kit", email="kit@acme.example", email_verified=True)
    redirected, _request = start_by_email(client, app_client[0], "kit@acme.example")
    answer = idp.sign_in(upstream_url(redirected), "kit")
    mixed = re.sub(r"iss=[^&]+", "iss=https%3A%2F%2Fevil.example", answer)
    page = follow(client, client.get(at_foyer(mixed)))
    assert page.status_code == 502
    assert recorded_events("upstream_failed")[0].data["code"] == "invalid_response"
    assert users_of(realm.acme_sso) == []


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        ("temporarily_unavailable", "upstream_unavailable", 503),
        ("server_error", "upstream_unavailable", 503),
        ("unauthorized_client", "upstream_misconfigured", 502),
        ("login_required", "access_denied", 403),
    ],
)
def test_every_upstream_error_has_its_page(
    client, realm, idp, app_client, recorded_events, error, code, status
):
    redirected, _request = start_by_email(client, app_client[0], "lee@acme.example")
    state = upstream_params(redirected)["state"]
    page = client.get("/login/callback", query_string={"error": error, "state": state})
    assert page.status_code == status
    assert recorded_events("upstream_failed")[0].data["code"] == code


@pytest.fixture
def impostor_keys(upstream_idp):
    """A key set served on loopback holding another key under the IdP's key id."""
    impostor = RSAKey.generate_key(2048, parameters={"kid": upstream_idp.signing_key.kid})
    body = json.dumps({"keys": [impostor.as_dict(private=False)]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks"
    server.shutdown()


def test_explicit_endpoints_and_a_wrong_signature(
    client,
    tenant,
    idp,
    app_client,
    make_connection,
    make_organization,
    recorded_events,
    impostor_keys,
):
    """Explicit endpoints replace discovery; keys that did not sign the token refuse it."""
    endpoints = {
        "authorization_endpoint": f"{idp.issuer}/auth",
        "token_endpoint": f"{idp.issuer}/token",
    }
    good = make_connection(
        "explicit-sso",
        "oidc",
        options=idp.options(**endpoints, jwks_uri=f"{idp.issuer}/jwks"),
        secrets={"client_secret": CLIENT_SECRET},
    )
    forged = make_connection(
        "forged-keys",
        "oidc",
        options=idp.options(**endpoints, jwks_uri=impostor_keys),
        secrets={"client_secret": CLIENT_SECRET},
    )
    make_organization("explicit", "Explicit", connections=[good, forged])
    idp.person("max", email="max@explicit.example", email_verified=True)
    done = come_back(client, idp, follow_connection(client, app_client[0], "explicit-sso"), "max")
    assert done.status_code in (302, 303) and "code=" in done.headers["Location"]

    browser = host_client(client.application)
    refused = come_back(
        browser, idp, follow_connection(browser, app_client[0], "forged-keys"), "max"
    )
    assert refused.status_code == 502
    [failed] = recorded_events("upstream_failed")
    assert failed.data["code"] == "invalid_response" and "signature" in failed.data["detail"]
    assert users_of(forged) == []


def test_a_shared_pool_lets_users_in_only_where_they_are_members(
    client, tenant, idp, app_client, make_connection, make_organization
):
    """An IdP enabled for two organizations is a shared pool: its users enter an
    organization only as members, here from a claim mapped to app_metadata.organizations."""
    shared = make_connection(
        "partner-idp",
        "oidc",
        options=idp.options(
            scope="openid email department", app_metadata={"organizations": "department"}
        ),
        secrets={"client_secret": CLIENT_SECRET},
    )
    make_organization("one", "One", connections=[shared])
    make_organization("two", "Two", connections=[shared])
    idp.person("pat", email="pat@partner.example", email_verified=True, department=["one"])
    app, secret = app_client
    for organization, allowed in (("one", True), ("two", False)):
        browser = host_client(client.application)
        page, request = authorize(browser, app, organization=organization)
        done = come_back(browser, idp, press(browser, page, "partner-idp"), "pat")
        if allowed:
            assert (
                exchange(browser, secret, request, callback(done, request)).id_token["org_name"]
                == "one"
            )
        else:
            assert done.status_code == 403 and "not a member of Two" in text(done)
    [user] = users_of(shared)  # one user of the pool, whichever organization
    assert user.app_metadata["organizations"] == ["one"]
