"""The management API's behaviour beyond authorization: invitations by default, merge
patches, ETag/If-Match, idempotency keys, cursors, search filters, rate limits, JSON errors
and deprovisioning end to end."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from openapi_spec_validator import validate

from app.accounts.models import User
from app.db import session
from app.events.models import Event
from app.events.record import record_event
from app.oidc.models import TokenGrant
from app.orgs.services import add_member
from app.sessions.models import SsoSession
from app.sessions.services import new_sso_session
from app.testing import CLIENT_REDIRECT_URI
from app.testing import decode_jwt
from tests.api.world import api_token
from tests.api.world import grant_for
from tests.security.test_backchannel_logout import RelyingParty

MERGE = "application/merge-patch+json"


@pytest.fixture
def headers(client, tenant):
    return {"Authorization": f"Bearer {api_token(client, tenant)}"}


def test_create_invites_by_default_and_never_takes_a_password(client, headers):
    response = client.post(
        "/api/v1/users", json={"email": "Bob@Example.com", "name": "Bob"}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["has_password"] is False
    assert "password" not in body
    assert response.headers["Location"] == f"/api/v1/users/{body['id']}"
    assert response.headers["ETag"]
    refused = client.post(
        "/api/v1/users",
        json={"email": "carol@example.com", "password": "correct horse battery staple"},
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.get_json() == {
        "code": "password_not_allowed",
        "message": refused.get_json()["message"],
        "field": "password",
    }
    again = client.post("/api/v1/users", json={"email": "bob@example.com"}, headers=headers)
    assert again.status_code == 409
    assert again.get_json()["code"] == "user_exists"


def test_tenant_may_allow_passwords(client, headers, tenant):
    tenant.settings = {**tenant.settings, "api_passwords": True}
    session.commit()
    response = client.post(
        "/api/v1/users",
        json={"email": "dave@example.com", "password": "correct horse battery staple"},
        headers=headers,
    )
    assert response.status_code == 201
    assert response.get_json()["has_password"] is True
    weak = client.post(
        "/api/v1/users", json={"email": "eve@example.com", "password": "123"}, headers=headers
    )
    assert weak.status_code == 422
    assert weak.get_json()["field"] == "password"


def test_validation_errors_name_the_field(client, headers):
    response = client.post("/api/v1/users", json={"email": "nope", "zzz": 1}, headers=headers)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid_field"
    assert {e["field"] for e in body["errors"]} == {"email", "zzz"}


def test_merge_patch_and_if_match(client, headers, user):
    url = f"/api/v1/users/{user.id}"
    read = client.get(url, headers=headers)
    etag = read.headers["ETag"]
    changed = client.patch(
        url,
        json={"name": "Alice B.", "user_metadata": {"plan": "gold", "theme": {"dark": True}}},
        content_type=MERGE,
        headers={**headers, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.headers["ETag"] != etag
    stale = client.patch(
        url, json={"name": "Lost update"}, content_type=MERGE, headers={**headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.get_json()["code"] == "precondition_failed"
    merged = client.patch(
        url,
        json={"user_metadata": {"plan": None, "theme": {"font": "serif"}}},
        content_type=MERGE,
        headers={**headers, "If-Match": changed.headers["ETag"]},
    )
    assert merged.get_json()["user_metadata"] == {"theme": {"dark": True, "font": "serif"}}
    assert merged.get_json()["name"] == "Alice B."


def test_app_metadata_organizations_mirror_memberships_and_stay(
    client, headers, user, make_organization
):
    org = make_organization("acme-corp")
    add_member(org, user)
    session.commit()
    response = client.patch(
        f"/api/v1/users/{user.id}",
        json={"app_metadata": {"organizations": ["elsewhere"], "tier": 2}},
        content_type=MERGE,
        headers=headers,
    )
    assert response.get_json()["app_metadata"] == {"organizations": ["acme-corp"], "tier": 2}


def test_idempotency_key_replays_the_first_answer(client, headers):
    body = {"email": "frank@example.com", "send_invite": False}
    key = {"Idempotency-Key": "create-frank-1"}
    first = client.post("/api/v1/users", json=body, headers={**headers, **key})
    second = client.post("/api/v1/users", json=body, headers={**headers, **key})
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
    other = client.post(
        "/api/v1/users", json={**body, "email": "gina@example.com"}, headers={**headers, **key}
    )
    assert other.status_code == 422
    assert other.get_json()["code"] == "idempotency_key_reused"


def test_search_filters_and_cursor_pagination(client, headers, make_user, make_organization):
    org = make_organization("acme-corp")
    make_organization("other-corp")  # the users connection is a shared pool
    for n in range(7):
        user = make_user(email=f"user{n}@example.com", name=f"User {n}")
        if n % 2 == 0:
            add_member(org, user)
    session.commit()
    seen, cursor = [], None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/users", query_string=query, headers=headers).get_json()
        seen += [u["email"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(f"user{n}@example.com" for n in range(7))
    in_org = client.get(
        "/api/v1/users", query_string={"organization": "acme-corp"}, headers=headers
    ).get_json()
    assert {u["email"] for u in in_org["items"]} == {f"user{n}@example.com" for n in (0, 2, 4, 6)}
    by_email = client.get(
        "/api/v1/users", query_string={"email": "USER3@example.com"}, headers=headers
    ).get_json()
    assert [u["name"] for u in by_email["items"]] == ["User 3"]
    bad = client.get("/api/v1/users", query_string={"cursor": "garbage"}, headers=headers)
    assert bad.status_code == 400 and bad.get_json()["field"] == "cursor"


def test_rate_limit_headers_and_429(client, tenant, foyer_app):
    foyer_app.extensions["foyer.settings"].rate_limit_api = "3 per minute"
    headers = {"Authorization": f"Bearer {api_token(client, tenant)}"}
    answers = [client.get("/api/v1/organizations", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Limit"] == "3"
    assert answers[2].headers["RateLimit-Remaining"] == "0"
    assert answers[3].get_json()["code"] == "rate_limited"
    assert int(answers[3].headers["Retry-After"]) >= 1


def test_errors_under_the_api_are_json(client, headers):
    unknown = client.get("/api/v1/nothing-here", headers=headers)
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "not_found"
    wrong_method = client.put("/api/v1/users", headers=headers)
    assert wrong_method.status_code == 405
    assert wrong_method.get_json()["code"] == "method_not_allowed"
    not_json = client.post(
        "/api/v1/users", data="{", content_type="application/json", headers=headers
    )
    assert not_json.status_code in (400, 422) and "code" in not_json.get_json()
    deep = client.post(
        "/api/v1/users",
        data='{"user_metadata": ' + "[" * 200 + "]" * 200 + "}",
        content_type="application/json",
        headers=headers,
    )
    assert deep.status_code in (400, 422) and "code" in deep.get_json()
    user_token = client.get("/api/v1/users", headers={"Authorization": "Bearer abc.def.ghi"})
    assert user_token.status_code == 401


def test_organization_branding_is_validated(client, headers, make_organization):
    make_organization("acme-corp")
    response = client.put(
        "/api/v1/organizations/acme-corp/branding",
        json={"logo_url": "javascript:alert(1)", "colors": {"primary": "red;}"}},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_branding"
    assert {e["field"] for e in response.get_json()["errors"]} == {
        "branding.logo_url",
        "branding.colors",
    }


def test_client_secret_is_shown_once_and_rotates(client, headers):
    created = client.post(
        "/api/v1/clients",
        json={"name": "Worker", "grant_types": ["client_credentials"], "scope": "read:users"},
        headers=headers,
    ).get_json()
    assert len(created["client_secret"]) >= 32
    client_id = created["client_id"]
    read = client.get(f"/api/v1/clients/{client_id}", headers=headers).get_json()
    assert "client_secret" not in read
    rotated = client.post(f"/api/v1/clients/{client_id}/rotate-secret", headers=headers).get_json()
    assert rotated["client_secret"] != created["client_secret"]
    old = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, created["client_secret"]),
    )
    assert old.status_code == 401
    new = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, rotated["client_secret"]),
    )
    assert new.status_code == 200


@pytest.mark.parametrize("how", ["block", "delete", "patch", "anonymize"])
def test_deprovisioning_ends_every_session_and_token_and_tells_applications(
    how, client, headers, user, make_client
):
    rp = RelyingParty()
    try:
        app_client, _secret = make_client(
            name="Back-channel app",
            redirect_uris=[CLIENT_REDIRECT_URI],
            settings={"backchannel_logout_uri": rp.uri},
        )
        sso = new_sso_session(user, ["pwd"])
        session.flush()
        grant = grant_for(user, app_client.client_id)
        grant.sso_session_id = sso.id
        other_grant = grant_for(user, "offline-app")  # a family of no session
        session.commit()
        sso_id, grant_id, other_id, user_id = sso.id, grant.id, other_grant.id, user.id
        url = f"/api/v1/users/{user_id}"
        if how == "block":
            response = client.post(url + "/block", headers=headers)
        elif how == "patch":
            response = client.patch(
                url, json={"blocked": True}, content_type=MERGE, headers=headers
            )
        elif how == "anonymize":
            response = client.delete(url + "?mode=anonymize", headers=headers)
        else:
            response = client.delete(url, headers=headers)
        assert response.status_code in (200, 204), response.get_json()
        session.expire_all()
        if how == "delete":
            assert session.get(User, user_id) is None
        else:
            assert session.get(SsoSession, sso_id).ended_at is not None
            assert session.get(TokenGrant, grant_id).revoked_at is not None
            assert session.get(TokenGrant, other_id).revoked_at is not None
        assert rp.received.wait(10)
        claims = decode_jwt(client, rp.tokens[-1])
        assert claims["sub"] == user_id and claims["sid"] == sso_id
    finally:
        rp.close()


def test_anonymizing_keeps_the_user_id_and_events_without_personal_data(
    client, headers, user, tenant
):
    email = user.email
    record_event(
        "login_failed",
        tenant=tenant,
        user_id=user.id,
        data={"identifier": email.upper(), "reason": "wrong_password"},
    )
    session.execute(sa.update(Event).where(Event.user_id == user.id).values(ip="203.0.113.9"))
    session.commit()
    user_id = user.id
    answer = client.delete(f"/api/v1/users/{user_id}?mode=anonymize", headers=headers)
    assert answer.status_code == 204
    session.expire_all()
    kept = session.get(User, user_id)
    assert kept is not None and kept.blocked
    assert (kept.email, kept.email_normalized, kept.name, kept.password_hash) == (None,) * 4
    events = session.scalars(sa.select(Event).where(Event.user_id == user_id)).all()
    types = [e.type for e in events]
    assert "login_failed" in types and "user_anonymized" in types
    for event in events:
        assert event.ip is None or event.type == "user_anonymized"
        assert email.lower() not in json.dumps(event.data).lower()
    failed = next(e for e in events if e.type == "login_failed")
    assert failed.data == {"reason": "wrong_password"}
    read = client.get(f"/api/v1/users/{user_id}", headers=headers)
    assert read.status_code == 200 and read.get_json()["email"] is None
    wrong = client.delete(f"/api/v1/users/{user_id}?mode=forget", headers=headers)
    assert wrong.status_code == 422


def test_openapi_document_is_valid_and_the_reference_page_renders(client, tenant):
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "https://login.test", "description": "This tenant"}]
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "/api/v1/users/{user_id}" in text and "read:users" in text
    assert client.get("/api/v1/docs/reference.css").status_code == 200
