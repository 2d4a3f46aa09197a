"""Refresh tokens (RFC 6749 §6): rotation on every use, re-use detection, family expiry."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.db import session
from app.db import utcnow
from app.oidc.models import RefreshToken
from app.oidc.models import TokenGrant
from app.testing import token_request


def refresh(client, oidc_client, refresh_token, **form):
    model, secret = oidc_client
    return token_request(
        client, model, secret, grant_type="refresh_token", refresh_token=refresh_token, **form
    )


def userinfo_status(client, access_token):
    return client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_refresh_rotates_the_refresh_token(client, oidc_client, issue_tokens, decode, user):
    first = issue_tokens()
    response = refresh(client, oidc_client, first["refresh_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    second = response.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == first["scope"]
    id_token = decode(second["id_token"]).claims
    assert id_token["sub"] == user.id
    assert "nonce" not in id_token
    assert refresh(client, oidc_client, second["refresh_token"]).status_code == 200


def test_refresh_tokens_are_stored_hashed(issue_tokens):
    tokens = issue_tokens()
    row = session.scalar(sa.select(RefreshToken))
    assert row.token_hash != tokens["refresh_token"]


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    client, oidc_client, issue_tokens, recorded_events
):
    first = issue_tokens()
    second = refresh(client, oidc_client, first["refresh_token"]).get_json()

    replay = refresh(client, oidc_client, first["refresh_token"])
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"
    # the legitimate holder's newer tokens die with the family
    assert (
        refresh(client, oidc_client, second["refresh_token"]).get_json()["error"] == "invalid_grant"
    )
    assert userinfo_status(client, second["access_token"]) == 401
    grant = session.scalar(sa.select(TokenGrant))
    session.refresh(grant)
    assert grant.revoked_reason == "refresh_token_reused"
    assert len(recorded_events("refresh_token_reused")) == 1


def test_refresh_token_is_bound_to_its_client(client, oidc_client, make_client, issue_tokens):
    tokens = issue_tokens()
    other = make_client(name="Other app")
    response = refresh(client, other, tokens["refresh_token"])
    assert response.get_json()["error"] == "invalid_grant"
    # still usable by its own client
    assert refresh(client, oidc_client, tokens["refresh_token"]).status_code == 200


def test_no_refresh_token_without_offline_access(issue_tokens):
    assert "refresh_token" not in issue_tokens(scope="openid profile")


def test_client_without_the_refresh_grant_gets_no_refresh_token(client, make_client, signed_in):
    from app.testing import authorize
    from app.testing import exchange_code

    model, secret = make_client(grant_types=["authorization_code"])
    result = authorize(client, model, scope="openid offline_access")
    assert "refresh_token" not in exchange_code(client, model, result, secret).get_json()


def test_refresh_may_narrow_the_scope_but_not_widen_it(client, oidc_client, issue_tokens, decode):
    tokens = issue_tokens(scope="openid profile offline_access")
    narrowed = refresh(client, oidc_client, tokens["refresh_token"], scope="openid")
    assert narrowed.status_code == 200
    assert narrowed.get_json()["scope"] == "openid"
    # the new refresh token keeps the family's full scope
    full = refresh(client, oidc_client, narrowed.get_json()["refresh_token"]).get_json()
    assert full["scope"] == "openid profile offline_access"
    widened = refresh(client, oidc_client, full["refresh_token"], scope="openid email")
    assert widened.get_json()["error"] == "invalid_scope"


def test_refresh_never_extends_past_the_family_expiry(client, oidc_client, issue_tokens, decode):
    tokens = issue_tokens()
    ends = utcnow() + dt.timedelta(seconds=100)
    session.execute(sa.update(TokenGrant).values(expires_at=ends))
    session.commit()
    body = refresh(client, oidc_client, tokens["refresh_token"]).get_json()
    assert body["expires_in"] <= 100
    assert decode(body["access_token"]).claims["exp"] <= int(ends.timestamp())
    session.execute(sa.update(TokenGrant).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    session.commit()
    assert (
        refresh(client, oidc_client, body["refresh_token"]).get_json()["error"] == "invalid_grant"
    )


def test_blocked_user_cannot_refresh(client, oidc_client, issue_tokens, user):
    tokens = issue_tokens()
    user.blocked = True
    session.commit()
    assert (
        refresh(client, oidc_client, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    )


def test_unknown_refresh_token_is_invalid_grant(client, oidc_client):
    assert refresh(client, oidc_client, "not-a-token").get_json()["error"] == "invalid_grant"


def test_public_client_refreshes_without_a_secret(client, public_client, signed_in):
    from app.testing import authorize
    from app.testing import exchange_code

    result = authorize(client, public_client, scope="openid offline_access")
    tokens = exchange_code(client, public_client, result).get_json()
    response = token_request(
        client, public_client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert response.status_code == 200
