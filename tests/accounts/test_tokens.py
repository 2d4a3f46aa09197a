"""Single-use tokens: random, hashed, bound to a purpose and tenant, expiring, used once."""

from __future__ import annotations

import datetime as dt
import threading

import sqlalchemy as sa

from app.accounts import tokens
from app.accounts.models import OneTimeToken
from app.db import session
from app.security.crypto import token_hash


def test_token_is_256_bits_and_only_its_hash_is_stored(tenant, user):
    issued = tokens.issue(tokens.PASSWORD_RESET, tenant_id=tenant.id, user=user)
    session.commit()
    assert len(issued.value) >= 43  # 32 random bytes, base64url
    row = session.scalar(sa.select(OneTimeToken))
    assert row.token_hash == token_hash(issued.value) != issued.value


def test_token_works_once_for_its_purpose_and_tenant_only(tenant, user):
    issued = tokens.issue(tokens.PASSWORD_RESET, tenant_id=tenant.id, user=user)
    session.commit()
    assert tokens.consume(issued.value, tokens.EMAIL_VERIFICATION, tenant.id) is None
    assert tokens.consume(issued.value, tokens.PASSWORD_RESET, "another-tenant") is None
    assert tokens.peek(issued.value, tokens.PASSWORD_RESET, tenant.id) is not None
    assert tokens.consume(issued.value, tokens.PASSWORD_RESET, tenant.id) is not None
    session.commit()
    assert tokens.consume(issued.value, tokens.PASSWORD_RESET, tenant.id) is None
    assert tokens.peek(issued.value, tokens.PASSWORD_RESET, tenant.id) is None


def test_expired_token_is_refused(tenant, user):
    issued = tokens.issue(
        tokens.EMAIL_VERIFICATION, tenant_id=tenant.id, user=user, ttl=dt.timedelta(seconds=-1)
    )
    session.commit()
    assert tokens.peek(issued.value, tokens.EMAIL_VERIFICATION, tenant.id) is None
    assert tokens.consume(issued.value, tokens.EMAIL_VERIFICATION, tenant.id) is None


def test_newer_token_of_the_same_purpose_voids_the_older(tenant, user):
    first = tokens.issue(tokens.PASSWORD_RESET, tenant_id=tenant.id, user=user)
    other = tokens.issue(tokens.EMAIL_VERIFICATION, tenant_id=tenant.id, user=user)
    second = tokens.issue(tokens.PASSWORD_RESET, tenant_id=tenant.id, user=user)
    session.commit()
    assert tokens.peek(first.value, tokens.PASSWORD_RESET, tenant.id) is None
    assert tokens.peek(second.value, tokens.PASSWORD_RESET, tenant.id) is not None
    assert tokens.peek(other.value, tokens.EMAIL_VERIFICATION, tenant.id) is not None


def test_of_two_concurrent_uses_exactly_one_wins(foyer_app, tenant, user):
    issued = tokens.issue(tokens.PASSWORD_RESET, tenant_id=tenant.id, user=user)
    session.commit()
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def use() -> None:
        with foyer_app.app_context():
            barrier.wait()
            row = tokens.consume(issued.value, tokens.PASSWORD_RESET, tenant.id)
            session.commit()
            results.append(row is not None)

    threads = [threading.Thread(target=use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [False, True]


def test_lifetimes_come_from_settings(foyer_app):
    assert tokens.lifetime(tokens.PASSWORD_RESET) == dt.timedelta(minutes=30)
    assert tokens.lifetime(tokens.EMAIL_VERIFICATION) == dt.timedelta(hours=24)
    assert tokens.lifetime(tokens.INVITATION) == dt.timedelta(days=7)
