"""Authorization code flow (RFC 6749 §4.1, OpenID Connect Core §3.1) with PKCE (RFC 7636)
and the iss response parameter (RFC 9207)."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from app.db import session
from app.db import utcnow
from app.login.flow import LoginTransaction
from app.oidc.models import AuthorizationCode
from app.oidc.models import TokenGrant
from app.sessions.models import SsoSession
from app.testing import USER_PASSWORD
from app.testing import authorize
from app.testing import exchange_code
from app.testing import pkce_pair
from app.testing import sign_in
from app.testing import token_request

REDIRECT_URI = "https://app.test/callback"


def authorize_query(client, **params):
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": "st-123",
        "nonce": "n-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    query.update(params)
    return {k: v for k, v in query.items() if v is not None}


def redirect_params(response):
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


# --- The happy path ------------------------------------------------------------------------


def test_signed_in_user_gets_a_code_with_state_and_iss(client, oidc_client, signed_in):
    model, _secret = oidc_client
    result = authorize(client, model)
    assert result["code"]
    assert result["iss"] == "https://login.test"
    assert "error" not in result


def test_code_exchange_returns_validated_id_token_and_jwt_access_token(
    client, oidc_client, signed_in, user, decode
):
    model, secret = oidc_client
    result = authorize(client, model, scope="openid profile email offline_access")
    response = exchange_code(client, model, result, secret)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid profile email offline_access"
    assert body["refresh_token"]

    id_token = decode(body["id_token"])
    claims = id_token.claims
    assert id_token.header["alg"] == "RS256"
    assert claims["iss"] == "https://login.test"
    assert claims["aud"] == model.client_id
    assert claims["azp"] == model.client_id
    assert claims["sub"] == user.id
    assert claims["nonce"] == result["nonce"]
    assert claims["sid"] == signed_in.id  # the row's id: the cookie's reference stays secret
    assert signed_in.sid not in str(claims)
    assert claims["auth_time"] == int(signed_in.auth_time.timestamp())
    assert claims["acr"] == "1"
    assert claims["amr"] == ["pwd"]
    assert claims["email"] == "alice@example.com"
    assert claims["email_verified"] is True
    assert claims["name"] == "Alice Example"
    assert claims["iat"] <= time.time() < claims["exp"]

    from authlib.oidc.core.util import create_half_hash

    assert claims["at_hash"] == create_half_hash(body["access_token"], "RS256").decode()

    access = decode(body["access_token"])
    assert access.header["typ"] == "at+jwt"
    assert access.claims["sub"] == user.id
    assert access.claims["client_id"] == model.client_id
    assert access.claims["aud"] == "https://login.test"
    assert access.claims["scope"] == "openid profile email offline_access"
    assert access.claims["jti"]
    assert "email" not in access.claims  # access tokens carry only what an API needs


def test_code_is_stored_hashed_and_expires_after_code_lifetime(client, oidc_client, signed_in):
    model, _secret = oidc_client
    result = authorize(client, model)
    row = session.scalar(sa.select(AuthorizationCode))
    assert row.code_hash != result["code"]
    assert result["code"] not in row.code_hash
    lifetime = (row.expires_at - row.created_at).total_seconds()
    assert 50 <= lifetime <= 60  # created_at is stamped at flush, a moment after "now"


def test_request_without_nonce_still_gets_an_id_token(client, oidc_client, signed_in, decode):
    model, secret = oidc_client
    result = authorize(client, model, nonce=None)
    body = exchange_code(client, model, result, secret).get_json()
    assert "nonce" not in decode(body["id_token"]).claims


def test_scope_without_openid_gets_no_id_token_and_no_refresh_token_without_offline_access(
    client, oidc_client, signed_in
):
    model, secret = oidc_client
    result = authorize(client, model, scope="profile")
    body = exchange_code(client, model, result, secret).get_json()
    assert "id_token" not in body
    assert "refresh_token" not in body
    assert body["scope"] == "profile"


def test_unknown_parameters_are_ignored(client, oidc_client, signed_in):
    model, _secret = oidc_client
    result = authorize(client, model, extra="foobar", display="popup", claims='{"x":1}')
    assert result["code"]


def test_authorization_request_by_post_works(client, oidc_client, signed_in):
    model, _secret = oidc_client
    response = client.post("/authorize", data=authorize_query(model))
    assert redirect_params(response)["code"]


def test_client_secret_post_client_exchanges_its_code(client, make_client, signed_in):
    model, secret = make_client(token_endpoint_auth_method="client_secret_post")
    result = authorize(client, model)
    response = exchange_code(client, model, result, secret)
    assert response.status_code == 200


def test_public_client_exchanges_with_pkce_and_no_secret(client, public_client, signed_in):
    result = authorize(client, public_client, scope="openid offline_access")
    response = exchange_code(client, public_client, result)
    assert response.status_code == 200
    assert response.get_json()["refresh_token"]


def test_es256_client_gets_an_es256_id_token(client, make_client, signed_in, decode):
    model, secret = make_client(id_token_signed_response_alg="ES256")
    result = authorize(client, model)
    body = exchange_code(client, model, result, secret).get_json()
    assert decode(body["id_token"], algorithms=["ES256"]).header["alg"] == "ES256"
    assert decode(body["access_token"], algorithms=["RS256"]).header["alg"] == "RS256"


def test_organization_of_the_session_is_in_the_id_token(
    client, oidc_client, user, make_organization, decode
):
    org = make_organization("globex")
    sign_in(client, user, organization=org)
    model, secret = oidc_client
    body = exchange_code(client, model, authorize(client, model), secret).get_json()
    claims = decode(body["id_token"]).claims
    assert claims["org_id"] == org.id
    assert claims["org_name"] == "globex"
    assert decode(body["access_token"]).claims["org_id"] == org.id


# --- Client and redirect_uri are checked first and never redirected to ---------------------


def test_unknown_client_shows_error_page_and_never_redirects(client, oidc_client, signed_in):
    model, _secret = oidc_client
    response = client.get("/authorize", query_string=authorize_query(model, client_id="nope"))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert 'id="error-title"' in response.get_data(as_text=True)


def test_unregistered_redirect_uri_shows_error_page_and_never_redirects(
    client, oidc_client, signed_in
):
    model, _secret = oidc_client
    for uri in (
        "https://evil.test/callback",
        "https://app.test/callback?x=1",  # query added
        "https://app.test/callback/",
        "https://app.test/callback#frag",
        "https://APP.test/callback",
    ):
        response = client.get("/authorize", query_string=authorize_query(model, redirect_uri=uri))
        assert response.status_code == 400, uri
        assert "Location" not in response.headers, uri


def test_missing_redirect_uri_shows_error_page(client, oidc_client, signed_in):
    model, _secret = oidc_client
    response = client.get("/authorize", query_string=authorize_query(model, redirect_uri=None))
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_client_of_another_tenant_is_unknown_here(client, foyer_app, signed_in):
    from app.clients.services import create_client
    from app.tenancy.services import create_tenant

    other = create_tenant("other", "Other", ["https://other.test"])
    model, _secret = create_client(other, "Other app", redirect_uris=[REDIRECT_URI])
    session.commit()
    response = client.get("/authorize", query_string=authorize_query(model))
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_unknown_host_gets_404(foyer_app, tenant):
    from app.testing import host_client

    response = host_client(foyer_app, "evil.test").get("/authorize")
    assert response.status_code == 404


# --- Errors after the client is known go back to it, with state and iss ---------------------


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "unsupported_response_type"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"scope": None}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://app.test/req"}, "request_uri_not_supported"),
        ({"state": "s" * 2000}, "invalid_request"),
    ],
)
def test_invalid_request_redirects_to_client_with_error_state_and_iss(
    client, oidc_client, signed_in, params, error
):
    model, _secret = oidc_client
    query = authorize_query(model, **params)
    response = client.get("/authorize", query_string=query)
    assert response.status_code == 302
    got = redirect_params(response)
    assert got["error"] == error
    assert got["iss"] == "https://login.test"
    assert got.get("state") == query.get("state")
    assert "code" not in got


def test_public_client_without_pkce_is_refused(client, public_client, signed_in):
    query = authorize_query(public_client, code_challenge=None, code_challenge_method=None)
    got = redirect_params(client.get("/authorize", query_string=query))
    assert got["error"] == "invalid_request"


def test_confidential_client_registered_without_pkce_may_skip_it(client, make_client, signed_in):
    model, secret = make_client(require_pkce=False)
    result = authorize(client, model, code_challenge=None, code_challenge_method=None)
    response = exchange_code(client, model, result, secret)
    assert response.status_code == 200


def test_client_without_the_code_grant_gets_unauthorized_client(client, make_client, signed_in):
    model, _secret = make_client(grant_types=["client_credentials"], scope="openid api")
    got = redirect_params(client.get("/authorize", query_string=authorize_query(model)))
    assert got["error"] == "unauthorized_client"


# --- prompt and max_age --------------------------------------------------------------------


def test_prompt_none_without_session_answers_login_required_with_iss(client, oidc_client):
    model, _secret = oidc_client
    query = authorize_query(model, prompt="none")
    got = redirect_params(client.get("/authorize", query_string=query))
    assert got["error"] == "login_required"
    assert got["state"] == "st-123"
    assert got["iss"] == "https://login.test"


def test_prompt_none_without_openid_scope_also_answers_login_required(client, oidc_client):
    model, _secret = oidc_client
    query = authorize_query(model, prompt="none", scope="profile")
    assert redirect_params(client.get("/authorize", query_string=query))["error"] == (
        "login_required"
    )


def test_prompt_none_with_session_issues_a_code_silently(client, oidc_client, signed_in):
    model, _secret = oidc_client
    assert authorize(client, model, prompt="none")["code"]


def test_without_session_the_browser_goes_to_the_login_page(client, oidc_client):
    model, _secret = oidc_client
    response = client.get("/authorize", query_string=authorize_query(model, login_hint="a@b.c"))
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["tx"]


def test_prompt_login_forces_the_login_page_despite_a_session(client, oidc_client, signed_in):
    model, _secret = oidc_client
    response = client.get("/authorize", query_string=authorize_query(model, prompt="login"))
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_max_age_exceeded_forces_the_login_page(client, oidc_client, user):
    sign_in(client, user, auth_time=utcnow() - dt.timedelta(seconds=120))
    model, _secret = oidc_client
    response = client.get("/authorize", query_string=authorize_query(model, max_age="60"))
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_max_age_satisfied_issues_a_code_with_auth_time(client, oidc_client, user, decode):
    sso = sign_in(client, user, auth_time=utcnow() - dt.timedelta(seconds=30))
    model, secret = oidc_client
    result = authorize(client, model, max_age="10000")
    claims = decode(exchange_code(client, model, result, secret).get_json()["id_token"]).claims
    assert claims["auth_time"] == int(sso.auth_time.timestamp())


def test_max_age_exceeded_with_prompt_none_answers_login_required(client, oidc_client, user):
    sign_in(client, user, auth_time=utcnow() - dt.timedelta(seconds=120))
    model, _secret = oidc_client
    query = authorize_query(model, max_age="60", prompt="none")
    assert redirect_params(client.get("/authorize", query_string=query))["error"] == (
        "login_required"
    )


# --- After the hosted login ----------------------------------------------------------------


def put_transaction(browser, tx):
    """Store ``tx`` as the hosted login leaves it (the next page the browser opens binds it)."""
    from app.login import flow

    with browser.application.test_request_context("/login", base_url=browser.host_url):
        flow.save(tx)


def completed_transaction(tenant, model, user, **fields):
    verifier, challenge = pkce_pair()
    params = authorize_query(model, code_challenge=challenge)
    tx = LoginTransaction(
        id="tx-1",
        tenant_id=tenant.id,
        created_at=time.time(),
        params=params,
        client_id=model.client_id,
        user_id=user.id,
        amr=["pwd"],
        completed=True,
    )
    for key, value in fields.items():
        setattr(tx, key, value)
    return tx, verifier


def test_resume_after_login_issues_the_code_for_the_stored_request(
    client, tenant, oidc_client, user, decode
):
    model, secret = oidc_client
    sign_in(client, user)
    tx, verifier = completed_transaction(tenant, model, user)
    put_transaction(client, tx)
    response = client.get("/authorize/resume?tx=tx-1")
    got = redirect_params(response)
    assert got["state"] == "st-123"
    assert got["iss"] == "https://login.test"
    body = exchange_code(
        client, model, {**got, "verifier": verifier, "redirect_uri": REDIRECT_URI}, secret
    ).get_json()
    assert decode(body["id_token"]).claims["nonce"] == "n-456"
    # the transaction is used up
    assert client.get("/authorize/resume?tx=tx-1").status_code == 400


def test_resume_with_unknown_transaction_shows_login_expired(client, tenant, signed_in):
    response = client.get("/authorize/resume?tx=nope")
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_resume_for_another_user_than_the_session_is_refused(
    client, tenant, oidc_client, user, make_user
):
    model, _secret = oidc_client
    other = make_user(email="mallory@example.com")
    sign_in(client, other)
    tx, _verifier = completed_transaction(tenant, model, user)
    put_transaction(client, tx)
    response = client.get("/authorize/resume?tx=tx-1")
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_resume_of_an_unfinished_login_is_refused(client, tenant, oidc_client, user):
    model, _secret = oidc_client
    sign_in(client, user)
    tx, _verifier = completed_transaction(tenant, model, user, completed=False)
    put_transaction(client, tx)
    assert client.get("/authorize/resume?tx=tx-1").status_code == 400


def test_forced_login_needs_a_fresh_authentication_before_resuming(
    client, tenant, oidc_client, user
):
    model, _secret = oidc_client
    sign_in(client, user, auth_time=utcnow() - dt.timedelta(minutes=5))
    tx, _verifier = completed_transaction(tenant, model, user, force_login=True)
    put_transaction(client, tx)
    assert client.get("/authorize/resume?tx=tx-1").status_code == 400


def test_full_flow_through_the_hosted_login_pages(client, oidc_client, user, decode):
    from app.testing import login

    model, secret = oidc_client
    verifier, challenge = pkce_pair()
    start = client.get("/authorize", query_string=authorize_query(model, code_challenge=challenge))
    tx = parse_qs(urlsplit(start.headers["Location"]).query)["tx"][0]
    done = login(client, "alice@example.com", USER_PASSWORD, tx=tx)
    assert done.status_code == 303  # the password form's answer goes straight to the client
    got = redirect_params(done)
    assert got["state"] == "st-123"
    result = {**got, "verifier": verifier, "redirect_uri": REDIRECT_URI}
    body = exchange_code(client, model, result, secret).get_json()
    claims = decode(body["id_token"]).claims
    assert claims["sub"] == user.id
    assert claims["nonce"] == "n-456"
    # the code was issued with the session the sign-in started, in the same request
    [sso] = session.scalars(sa.select(SsoSession).where(SsoSession.user_id == user.id)).all()
    assert claims["sid"] == sso.id and claims["auth_time"] == int(sso.auth_time.timestamp())
    grant = session.scalar(sa.select(TokenGrant).where(TokenGrant.user_id == user.id))
    assert grant is not None and grant.sso_session_id == sso.id


# --- Token endpoint: codes are single-use, bound, short-lived --------------------------------


def test_code_reuse_is_refused_and_revokes_the_tokens_it_issued(
    client, oidc_client, signed_in, recorded_events
):
    model, secret = oidc_client
    result = authorize(client, model, scope="openid profile offline_access")
    first = exchange_code(client, model, result, secret).get_json()
    assert (
        client.get(
            "/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"}
        ).status_code
        == 200
    )

    again = exchange_code(client, model, result, secret)
    assert again.status_code == 400
    assert again.get_json()["error"] == "invalid_grant"

    userinfo = client.get("/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert userinfo.status_code == 401
    refreshed = token_request(
        client, model, secret, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert refreshed.get_json()["error"] == "invalid_grant"
    grant = session.scalar(sa.select(TokenGrant))
    session.refresh(grant)
    assert grant.revoked_reason == "code_reused"
    assert [e.client_id for e in recorded_events("code_reused")] == [model.client_id]


def test_wrong_pkce_verifier_is_refused(client, oidc_client, signed_in):
    model, secret = oidc_client
    result = authorize(client, model)
    wrong, _challenge = pkce_pair()
    response = exchange_code(client, model, result, secret, code_verifier=wrong)
    assert response.get_json()["error"] == "invalid_grant"
    # the code was not spent by the failed attempt
    assert exchange_code(client, model, result, secret).status_code == 200


def test_missing_verifier_for_a_pkce_code_is_refused(client, oidc_client, signed_in):
    model, secret = oidc_client
    result = authorize(client, model)
    response = exchange_code(client, model, result, secret, code_verifier=None)
    assert response.status_code == 400


def test_pkce_downgrade_verifier_for_a_code_without_challenge_is_refused(
    client, make_client, signed_in
):
    model, secret = make_client(require_pkce=False)
    result = authorize(client, model, code_challenge=None, code_challenge_method=None)
    verifier, _challenge = pkce_pair()
    response = exchange_code(client, model, result, secret, code_verifier=verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_expired_code_is_refused(client, oidc_client, signed_in):
    model, secret = oidc_client
    result = authorize(client, model)
    session.execute(
        sa.update(AuthorizationCode).values(expires_at=utcnow() - dt.timedelta(seconds=1))
    )
    session.commit()
    response = exchange_code(client, model, result, secret)
    assert response.get_json()["error"] == "invalid_grant"


def test_code_is_bound_to_its_client(client, oidc_client, make_client, signed_in, recorded_events):
    model, secret = oidc_client
    other, other_secret = make_client(name="Other app")
    result = authorize(client, model)
    response = exchange_code(client, other, result, other_secret)
    assert response.get_json()["error"] == "invalid_grant"
    # another client's attempt neither spends the code nor counts as a re-use
    assert exchange_code(client, model, result, secret).status_code == 200
    assert recorded_events("code_reused") == []


def test_code_is_bound_to_its_redirect_uri(client, make_client, signed_in, recorded_events):
    model, secret = make_client(redirect_uris=[REDIRECT_URI, "https://app.test/other"])
    result = authorize(client, model)
    response = exchange_code(client, model, result, secret, redirect_uri="https://app.test/other")
    assert response.get_json()["error"] == "invalid_grant"
    # the refused exchange rolled back its claim: the code is still good, once
    assert exchange_code(client, model, result, secret).status_code == 200
    assert session.scalar(sa.select(sa.func.count()).select_from(TokenGrant)) == 1
    assert recorded_events("code_reused") == []


def test_bad_client_secret_answers_401_with_www_authenticate(
    client, oidc_client, signed_in, recorded_events
):
    model, secret = oidc_client
    result = authorize(client, model)
    response = exchange_code(client, model, result, "x" * 43)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.headers["Cache-Control"] == "no-store"
    events = recorded_events("client_auth_failed")
    assert [e.client_id for e in events] == [model.client_id]
    assert secret not in str(events[0].data)
    # the failed attempt did not spend the code
    assert exchange_code(client, model, result, secret).status_code == 200


def test_confidential_client_cannot_skip_authentication(client, oidc_client, signed_in):
    model, _secret = oidc_client
    result = authorize(client, model)
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": result["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": result["verifier"],
            "client_id": model.client_id,
        },
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_unsupported_grant_type_is_refused(client, oidc_client):
    model, secret = oidc_client
    response = token_request(
        client, model, secret, grant_type="password", username="a", password="b"
    )
    assert response.get_json()["error"] == "unsupported_grant_type"


def test_blocked_user_cannot_redeem_a_code(client, oidc_client, signed_in, user):
    model, secret = oidc_client
    result = authorize(client, model)
    user.blocked = True
    session.commit()
    assert exchange_code(client, model, result, secret).get_json()["error"] == "invalid_grant"
    code = session.scalar(sa.select(AuthorizationCode))
    session.refresh(code)
    assert code.used_at is None and code.grant_id is None  # the refusal wrote nothing
    assert session.scalar(sa.select(sa.func.count()).select_from(TokenGrant)) == 0


def test_the_family_and_refresh_token_tuples_mirror_their_tables():
    from app.oidc import tokens

    assert tokens.FamilyRow._fields == tuple(c.key for c in tokens.GRANTS.columns)
    assert tokens.StoredRefreshToken._fields == tuple(c.key for c in tokens.REFRESH_TOKENS.columns)


def test_any_response_type_but_code_is_refused_without_echoing_it(client, oidc_client, signed_in):
    model, _secret = oidc_client
    for response_type in ("é", "code\x00", "code id_token"):
        response = client.get(
            "/authorize", query_string=authorize_query(model, response_type=response_type)
        )
        got = redirect_params(response)
        assert got["error"] == "unsupported_response_type"
        assert response_type not in got.get("error_description", "")


def test_huge_max_age_is_refused_not_a_crash(client, oidc_client, signed_in):
    model, _secret = oidc_client
    query = authorize_query(model, max_age="9" * 30)
    assert redirect_params(client.get("/authorize", query_string=query))["error"] == (
        "invalid_request"
    )
