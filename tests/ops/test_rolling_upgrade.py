"""A rolling upgrade: the database is migrated first, while nodes of the previous release
still serve (docs/operating.md, Rolling upgrades). Each migration only expands the schema
(tests/test_migrations.py), so code keeps serving a schema one release ahead of it. Here
this code plays the previous release, on a database a later release has expanded the way
the rule allows: a new table, a new nullable column and a new column with a server default
on tables a sign-in writes, and a revision this code does not know."""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa

from app.db import session
from app.testing import USER_PASSWORD
from app.testing import authorize
from app.testing import exchange_code
from app.testing import host_client
from app.testing import login
from app.testing import token_request

FUTURE_REVISION = "29991231_0000"
EXPAND = [
    "CREATE TABLE future_release_note (id VARCHAR(36) PRIMARY KEY, body TEXT)",
    'ALTER TABLE "user" ADD COLUMN future_nickname VARCHAR(64)',
    "ALTER TABLE sso_session ADD COLUMN future_device VARCHAR(64)",
    "ALTER TABLE token_grant ADD COLUMN future_flag BOOLEAN DEFAULT FALSE NOT NULL",
]
CONTRACT = [
    "DROP TABLE future_release_note",
    'ALTER TABLE "user" DROP COLUMN future_nickname',
    "ALTER TABLE sso_session DROP COLUMN future_device",
    "ALTER TABLE token_grant DROP COLUMN future_flag",
]


@pytest.fixture
def expanded_by_a_later_release(foyer_app) -> t.Iterator[None]:
    engine = foyer_app.extensions["foyer.db"].engine
    session.commit()  # no transaction of the test's may hold a lock the DDL waits for
    with engine.begin() as connection:
        head = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        for statement in EXPAND:
            connection.execute(sa.text(statement))
        connection.execute(
            sa.text("UPDATE alembic_version SET version_num = :v"), {"v": FUTURE_REVISION}
        )
    try:
        yield
    finally:
        session.rollback()
        session.close()
        with engine.begin() as connection:
            for statement in CONTRACT:
                connection.execute(sa.text(statement))
            connection.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": head})


def test_the_previous_release_serves_a_schema_one_release_ahead(
    expanded_by_a_later_release, foyer_app, client, make_user, oidc_client
):
    ready = host_client(foyer_app, "10.0.0.5").get("/health/ready")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["checks"]["migrations"] == "ahead"

    user = make_user(email="carol@example.com", email_verified=True)  # rows it writes
    model, secret = oidc_client
    assert login(client, user.email, USER_PASSWORD).status_code == 303  # the hosted pages
    result = authorize(client, model, scope="openid email offline_access")
    tokens = exchange_code(client, model, result, secret)
    assert tokens.status_code == 200, tokens.get_json()
    refreshed = token_request(
        client,
        model,
        secret,
        grant_type="refresh_token",
        refresh_token=tokens.get_json()["refresh_token"],
    )
    assert refreshed.status_code == 200, refreshed.get_json()
    info = client.get(
        "/userinfo", headers={"Authorization": f"Bearer {refreshed.get_json()['access_token']}"}
    )
    assert info.status_code == 200 and info.get_json()["email"] == user.email
