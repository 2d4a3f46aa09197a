"""Bulk imports as jobs: mixed hash formats and Auth0's export shape, refused rows reported
by number while valid rows are kept, progress polled, and imported users sign in (their
hash becoming argon2id)."""

from __future__ import annotations

import time

import bcrypt
import sqlalchemy as sa

from app.accounts.background import wait_for_background
from app.accounts.models import User
from app.db import session
from app.security.hash_formats import pbkdf2_sha256
from app.security.hash_formats import scrypt_hash
from app.security.passwords import hash_password
from app.testing import host_client
from app.testing import login
from tests.api.world import api_token

PASSWORD = "import me please 42"


def rows() -> list[dict]:
    return [
        {"email": "argon@example.com", "password_hash": hash_password(PASSWORD)},
        {
            "email": "bcrypt@example.com",
            "password_hash": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode(),
            "name": "B. Crypt",
        },
        {
            "email": "django@example.com",
            "password_hash": "pbkdf2_sha256$" + pbkdf2_sha256(PASSWORD, "s4lt", 1000),
        },
        {"email": "scrypt@example.com", "password_hash": scrypt_hash(PASSWORD, "s4lt", n=2**10)},
        {"email": "not-an-address", "password_hash": hash_password(PASSWORD)},
        {"email": "md5@example.com", "password_hash": "5f4dcc3b5aa765d61d8327deb882cf99"},
        {
            "user_id": "auth0|5f7c8ec7c33c6c004bbafe82",
            "email": "auth0@example.com",
            "email_verified": True,
            "given_name": "Ann",
            "custom_password_hash": {
                "algorithm": "bcrypt",
                "hash": {"value": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()},
            },
            "logins_count": 12,
            "user_metadata": {"plan": "pro"},
        },
        {"email": "ARGON@example.com"},
    ]


def test_import_job_keeps_valid_rows_reports_bad_ones_and_users_sign_in(client, tenant, foyer_app):
    headers = {"Authorization": f"Bearer {api_token(client, tenant)}"}
    started = client.post(
        "/api/v1/users/imports", json={"connection": "users", "users": rows()}, headers=headers
    )
    assert started.status_code == 202, started.get_json()
    job = started.get_json()
    assert job["total"] == 8
    assert wait_for_background(foyer_app)
    deadline = time.monotonic() + 30
    while True:
        job = client.get(started.headers["Location"], headers=headers).get_json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert job["status"] == "done", job
    assert (job["imported"], job["failed"], job["processed"]) == (5, 3, 8)
    assert [e["row"] for e in job["errors"]] == [5, 6, 8]
    assert "email" in job["errors"][0]["message"]
    assert "password_hash" in job["errors"][1]["message"]
    assert "already on row 1" in job["errors"][2]["message"]
    session.expire_all()
    auth0 = session.scalar(sa.select(User).where(User.email == "auth0@example.com"))
    assert auth0.given_name == "Ann" and auth0.user_metadata == {"plan": "pro"}
    for email in ("argon", "bcrypt", "django", "scrypt", "auth0"):
        browser = host_client(foyer_app)
        response = login(browser, f"{email}@example.com", PASSWORD)
        assert response.status_code == 303, (email, response.status_code)
        session.expire_all()
        stored = session.scalar(
            sa.select(User.password_hash).where(User.email == f"{email}@example.com")
        )
        assert stored.startswith("$argon2id$"), email


def test_an_import_into_no_password_connection_is_refused(client, tenant):
    headers = {"Authorization": f"Bearer {api_token(client, tenant)}"}
    response = client.post(
        "/api/v1/users/imports", json={"connection": "nope", "users": [{}]}, headers=headers
    )
    assert response.status_code == 422
    assert response.get_json()["field"] == "connection"
