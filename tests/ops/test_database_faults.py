"""The database stops and starts again under a running app: 503 with Retry-After (JSON with
an OAuth error for programs, the branded page for people), never 500, never an answer that
lets anything through, and service again without a restart."""

from __future__ import annotations

import base64

import pytest

from app.testing import USER_PASSWORD
from app.testing import run_authorization_code_flow
from app.testing import throwaway_settings


@pytest.fixture(params=[0, 5], ids=["uncached", "cached"])
def foyer_config(request, tmp_path, private_database_url):
    """Without the row cache every request needs the database at once; with it, the host's
    tenant and the client are known and the request goes further before it needs it."""
    return {**throwaway_settings(tmp_path, private_database_url), "cache_seconds": request.param}


def basic(client, secret: str) -> dict[str, str]:
    pair = f"{client.client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def test_stopped_database_answers_503_and_service_returns(
    client, user, oidc_client, private_postgres, caplog
):
    app_client, secret = oidc_client
    flow = run_authorization_code_flow(
        client, app_client, secret, user.email, USER_PASSWORD, scope="openid email offline_access"
    )
    access, refresh = flow.tokens["access_token"], flow.tokens["refresh_token"]
    bearer = {"Authorization": f"Bearer {access}"}
    as_client = basic(app_client, secret)

    private_postgres.stop()
    try:
        protocol = {
            "userinfo": client.get("/userinfo", headers=bearer),
            "token": client.post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": refresh},
                headers=as_client,
            ),
            "introspect": client.post(
                "/oauth/introspect", data={"token": access}, headers=as_client
            ),
            "hrd_lookup": client.post("/hrd/lookup", json={"identifier": "someone@example.com"}),
        }
        for name, answer in protocol.items():
            assert answer.status_code == 503, (name, answer.status_code, answer.data[:300])
            assert answer.headers["Retry-After"].isdigit(), name
            assert answer.mimetype == "application/json", name
            assert answer.get_json()["error"] == "temporarily_unavailable", name
            assert "active" not in answer.get_json(), name  # nothing is let through

        page = client.get("/login?tx=unknown")
        assert page.status_code == 503 and page.mimetype == "text/html"
        assert page.headers["Retry-After"].isdigit()
        body = page.get_data(as_text=True)
        assert 'id="error-title">Sign-in is unavailable right now<' in body
        assert f'id="error-reference" dir="ltr">{page.headers["X-Request-ID"]}<' in body

        ready = client.get("/health/ready")
        assert ready.status_code == 503 and ready.headers["Retry-After"]
        assert ready.get_json()["checks"]["database"] == "unreachable"
        assert client.get("/health/live").status_code == 200
    finally:
        private_postgres.start()

    # one line per failed request, no traceback
    assert not [r for r in caplog.records if r.exc_info and r.levelname == "ERROR"], [
        r.getMessage() for r in caplog.records if r.exc_info
    ]

    # the same app serves again: the pool replaced its broken connections
    assert client.get("/health/ready").status_code == 200
    assert client.get("/userinfo", headers=bearer).status_code == 200
    again = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        headers=as_client,
    )
    assert again.status_code == 200, again.get_json()
