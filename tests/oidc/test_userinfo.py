"""UserInfo endpoint (OpenID Connect Core §5.3): bearer tokens, claims by scope."""

from __future__ import annotations

import time

import sqlalchemy as sa

from app.db import session
from app.oidc import keys
from app.oidc.models import TokenGrant


def userinfo(client, token, method="GET"):
    return client.open("/userinfo", method=method, headers={"Authorization": f"Bearer {token}"})


def test_userinfo_by_get_and_post_has_the_id_tokens_sub(client, issue_tokens, decode, user):
    tokens = issue_tokens()
    for method in ("GET", "POST"):
        response = userinfo(client, tokens["access_token"], method)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        claims = response.get_json()
        assert claims["sub"] == decode(tokens["id_token"]).claims["sub"] == user.id
        assert claims["email"] == "alice@example.com"
        assert claims["email_verified"] is True
        assert claims["name"] == "Alice Example"


def test_claims_follow_the_granted_scopes(client, issue_tokens):
    claims = userinfo(client, issue_tokens(scope="openid")["access_token"]).get_json()
    assert set(claims) == {"sub"}
    claims = userinfo(client, issue_tokens(scope="openid profile")["access_token"]).get_json()
    assert claims["name"] == "Alice Example"
    assert "email" not in claims


def test_missing_token_answers_401_with_bearer_challenge(client, tenant):
    response = client.get("/userinfo")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


def test_garbage_token_answers_invalid_token(client, tenant):
    response = userinfo(client, "not.a.jwt")
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_id_token_is_not_accepted_as_access_token(client, issue_tokens):
    assert userinfo(client, issue_tokens()["id_token"]).status_code == 401


def test_token_without_openid_scope_is_refused(client, issue_tokens):
    response = userinfo(client, issue_tokens(scope="profile")["access_token"])
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"


def test_expired_token_is_refused(client, issue_tokens, tenant, oidc_client):
    from joserfc import jwt

    tokens = issue_tokens()
    claims = jwt.decode(tokens["access_token"], keys.keyring(tenant.id).public_keyset).claims
    claims["exp"] = int(time.time()) - 1
    key = keys.signer(tenant.id).key
    expired = jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "at+jwt"}, claims, key)
    assert userinfo(client, expired).status_code == 401


def test_token_signed_by_a_foreign_key_is_refused(client, issue_tokens, tenant):
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    tokens = issue_tokens()
    claims = jwt.decode(tokens["access_token"], keys.keyring(tenant.id).public_keyset).claims
    foreign = RSAKey.generate_key(2048, auto_kid=True)
    forged = jwt.encode({"alg": "RS256", "kid": foreign.kid, "typ": "at+jwt"}, claims, foreign)
    assert userinfo(client, forged).status_code == 401


def test_token_of_another_tenant_is_refused(client, issue_tokens, foyer_app):
    from app.tenancy.services import create_tenant
    from app.testing import host_client

    tokens = issue_tokens()
    other = create_tenant("other", "Other", ["https://other.test"])
    session.commit()
    keys.ensure_keys(other.id)  # the other tenant has keys of its own
    response = userinfo(host_client(foyer_app, "other.test"), tokens["access_token"])
    assert response.status_code == 401


def test_revoked_family_stops_its_access_tokens(client, issue_tokens):
    tokens = issue_tokens()
    session.execute(sa.update(TokenGrant).values(revoked_at=TokenGrant.created_at))
    session.commit()
    assert userinfo(client, tokens["access_token"]).status_code == 401


def test_blocked_user_gets_no_userinfo(client, issue_tokens, user):
    tokens = issue_tokens()
    user.blocked = True
    session.commit()
    assert userinfo(client, tokens["access_token"]).status_code == 401


def test_userinfo_has_organization_claims(client, oidc_client, user, make_organization):
    from app.testing import authorize
    from app.testing import exchange_code
    from app.testing import sign_in

    org = make_organization("globex")
    sign_in(client, user, organization=org)
    model, secret = oidc_client
    tokens = exchange_code(client, model, authorize(client, model), secret).get_json()
    claims = userinfo(client, tokens["access_token"]).get_json()
    assert (claims["org_id"], claims["org_name"]) == (org.id, "globex")


def test_api_audience_tokens_with_openid_also_work_at_userinfo(
    client, make_client, signed_in, decode
):
    from app.testing import authorize
    from app.testing import exchange_code

    model, secret = make_client(audience="https://api.test/orders")
    tokens = exchange_code(client, model, authorize(client, model), secret).get_json()
    assert decode(tokens["access_token"]).claims["aud"] == [
        "https://api.test/orders",
        "https://login.test",
    ]
    assert userinfo(client, tokens["access_token"]).status_code == 200
    api_only = exchange_code(
        client, model, authorize(client, model, scope="profile"), secret
    ).get_json()
    assert decode(api_only["access_token"]).claims["aud"] == "https://api.test/orders"
