"""Per-tenant signing keys: lazy creation, encryption at rest, rotation, per-process cache."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.db import session
from app.db import utcnow
from app.oidc import keys
from app.oidc.models import SigningKey
from app.testing import authorize
from app.testing import exchange_code


def states(tenant):
    rows = session.scalars(
        sa.select(SigningKey)
        .where(SigningKey.tenant_id == tenant.id)
        .order_by(SigningKey.created_at)
    ).all()
    for row in rows:
        session.refresh(row)
    return {row.kid: (row.alg, row.state) for row in rows}


def published_kids(client):
    return {key["kid"] for key in client.get("/.well-known/jwks.json").get_json()["keys"]}


def test_keys_are_created_on_first_need_as_current_and_next(tenant):
    assert states(tenant) == {}
    key = keys.signer(tenant.id, "RS256").key
    found = states(tenant)
    assert sorted(state for _alg, state in found.values()) == ["current", "next"]
    assert found[key.kid] == ("RS256", "current")


def test_es256_keys_exist_only_once_a_client_needs_them(tenant):
    keys.signer(tenant.id, "RS256")
    assert {alg for alg, _state in states(tenant).values()} == {"RS256"}
    keys.signer(tenant.id, "ES256")
    assert {alg for alg, _state in states(tenant).values()} == {"RS256", "ES256"}


def test_private_keys_are_encrypted_at_rest(tenant):
    keys.signer(tenant.id)
    row = session.scalar(sa.select(SigningKey).where(SigningKey.state == "current"))
    assert '"d"' not in row.private_jwk_encrypted
    assert "d" not in row.public_jwk
    from app.security.crypto import decrypt_json

    assert decrypt_json(row.private_jwk_encrypted)["kid"] == row.kid


def test_keys_belong_to_one_tenant(tenant, foyer_app):
    from app.tenancy.services import create_tenant

    other = create_tenant("other", "Other", ["https://other.test"])
    session.commit()
    assert keys.signer(tenant.id).key.kid != keys.signer(other.id).key.kid


def test_rotation_promotes_next_and_keeps_publishing_the_old_key(client, tenant):
    before = keys.signer(tenant.id).key
    next_kid = next(k for k, (_a, s) in states(tenant).items() if s == "next")
    signing = keys.rotate_keys(tenant.id)
    assert [key.kid for key in signing] == [next_kid]
    after = states(tenant)
    assert after[before.kid] == ("RS256", "previous")
    assert after[next_kid] == ("RS256", "current")
    assert sum(1 for _a, s in after.values() if s == "next") == 1
    assert keys.signer(tenant.id).key.kid == next_kid
    assert set(after) == published_kids(client)


def test_tokens_signed_before_rotation_still_verify(client, oidc_client, signed_in, tenant, decode):
    model, secret = oidc_client
    body = exchange_code(client, model, authorize(client, model), secret).get_json()
    keys.rotate_keys(tenant.id)
    assert decode(body["id_token"]).claims["aud"] == model.client_id
    userinfo = client.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert userinfo.status_code == 200


def test_second_rotation_retires_the_oldest_key_only_after_tokens_expired(client, tenant):
    first = keys.signer(tenant.id).key
    keys.rotate_keys(tenant.id)
    with pytest.raises(keys.KeyRotationTooSoon):
        keys.rotate_keys(tenant.id)
    assert first.kid in published_kids(client)
    session.execute(
        sa.update(SigningKey)
        .where(SigningKey.state == "previous")
        .values(rotated_at=utcnow() - dt.timedelta(hours=2))
    )
    session.commit()
    keys.rotate_keys(tenant.id)
    assert states(tenant)[first.kid] == ("RS256", "retired")
    assert first.kid not in published_kids(client)


def test_forced_rotation_retires_at_once(tenant):
    first = keys.signer(tenant.id).key
    keys.rotate_keys(tenant.id)
    keys.rotate_keys(tenant.id, force=True)
    assert states(tenant)[first.kid] == ("RS256", "retired")


def test_cache_notices_a_rotation_made_by_another_process(foyer_app, tenant, monkeypatch):
    old = keys.signer(tenant.id).key
    # another process rotates: this process's cache is not told
    nxt = session.scalar(sa.select(SigningKey).where(SigningKey.state == "next"))
    now = utcnow()
    session.execute(
        sa.update(SigningKey)
        .where(SigningKey.kid == old.kid)
        .values(state="previous", rotated_at=now)
    )
    session.execute(
        sa.update(SigningKey)
        .where(SigningKey.kid == nxt.kid)
        .values(state="current", rotated_at=now)
    )
    session.commit()
    assert keys.signer(tenant.id).key.kid == old.kid  # cached within FOYER_CACHE_SECONDS
    monkeypatch.setattr(foyer_app.extensions["foyer.oidc.keys"], "ttl", 0.0)
    assert keys.signer(tenant.id).key.kid == nxt.kid


def test_cli_rotates_keys_and_records_an_event(foyer_app, tenant, recorded_events):
    from app.cli import AppContext
    from app.cli import cli
    from app.oidc.cli import register_commands

    register_commands(cli)
    first = keys.signer(tenant.id).key
    runner = CliRunner()
    result = runner.invoke(cli, ["keys", "rotate", "--tenant", "acme"], obj=AppContext(foyer_app))
    assert result.exit_code == 0, result.output
    assert "RS256 now signs with" in result.output
    assert states(tenant)[first.kid] == ("RS256", "previous")
    assert len(recorded_events("keys_rotated")) == 1

    refused = runner.invoke(cli, ["keys", "rotate", "--tenant", "acme"], obj=AppContext(foyer_app))
    assert refused.exit_code == 1
    assert "--force" in refused.output

    listed = runner.invoke(cli, ["keys", "list", "--tenant", "acme"], obj=AppContext(foyer_app))
    assert first.kid in listed.output and "previous" in listed.output

    unknown = runner.invoke(cli, ["keys", "rotate", "--tenant", "nope"], obj=AppContext(foyer_app))
    assert unknown.exit_code == 1


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
@pytest.mark.parametrize("typ", ["JWT", "at+jwt", "logout+jwt"])
def test_a_signer_signs_what_joserfc_encodes(tenant, alg, typ):
    from joserfc import jwt

    signer = keys.signer(tenant.id, alg)
    claims = {"iss": "https://t.example", "sub": "ü-1", "aud": ["a", "b"], "exp": 2, "n": None}
    token = signer.sign(dict(claims), typ)
    decoded = jwt.decode(token, keys.keyring(tenant.id).public_keyset, algorithms=[alg])
    assert decoded.header == {"typ": typ, "alg": alg, "kid": signer.kid}
    assert decoded.claims == claims
    header = {"alg": alg, "kid": signer.kid, "typ": typ}
    expected = jwt.encode(header, dict(claims), signer.key, algorithms=[alg])
    if alg == "RS256":  # deterministic signatures: the very same string
        assert token == expected
    else:  # ECDSA signs with a random nonce: the same header and payload
        assert token.rsplit(".", 1)[0] == expected.rsplit(".", 1)[0]
