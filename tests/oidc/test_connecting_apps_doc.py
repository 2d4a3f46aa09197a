"""The Flask example of docs/connecting-apps.md works as written against a real server."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from app.testing import host_client

DOC = Path(__file__).resolve().parents[2] / "docs" / "connecting-apps.md"


@pytest.fixture
def foyer_config(foyer_config: dict[str, t.Any]) -> dict[str, t.Any]:
    return {**foyer_config, "secure_cookies": False}  # plain http on loopback


def example_source() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    (source,) = [block for block in blocks if "oauth.register(" in block]
    return source


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def test_documented_flask_example_signs_in_and_out(
    live_server: str,
    browser: requests.Session,
    make_client: t.Callable[..., t.Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = DOC.read_text()
    port = re.search(r"flask --app portal run --port (\d+)", text).group(1)
    assert port != "5000"  # Foyer's own port
    base = f"http://localhost:{port}"
    assert f"`{base}/callback` as redirect URI" in text
    model, secret = make_client(
        name="Customer portal",
        redirect_uris=[f"{base}/callback"],
        post_logout_redirect_uris=[f"{base}/signed-out"],
    )
    monkeypatch.setenv("FOYER_ISSUER", live_server)
    monkeypatch.setenv("FOYER_CLIENT_ID", model.client_id)
    monkeypatch.setenv("FOYER_CLIENT_SECRET", secret)
    monkeypatch.setenv("APP_SECRET_KEY", "portal-test-secret")
    namespace: dict[str, t.Any] = {"__name__": "portal"}
    exec(compile(example_source(), str(DOC), "exec"), namespace)  # noqa: S102
    portal = host_client(namespace["app"], f"localhost:{port}", scheme="http")

    assert "Sign in" in portal.get("/").get_data(as_text=True)
    to_foyer = portal.get("/login").headers["Location"]
    assert to_foyer.startswith(f"{live_server}/authorize?")
    back = browser.get(to_foyer, allow_redirects=False, timeout=10).headers["Location"]
    assert back.startswith(f"{base}/callback?")
    assert portal.get(path_of(back)).status_code == 302
    assert "Hello Alice Example" in portal.get("/").get_data(as_text=True)
    with portal.session_transaction() as cookie:
        first = cookie["refresh_token"]
    refreshed = portal.get("/refresh")
    assert refreshed.status_code == 200 and refreshed.get_json()["access_token_expires_in"] > 0
    with portal.session_transaction() as cookie:
        assert cookie["refresh_token"] not in ("", first)  # rotated

    to_logout = portal.get("/logout").headers["Location"]
    assert to_logout.startswith(f"{live_server}/oidc/logout?")
    back = browser.get(to_logout, allow_redirects=False, timeout=10).headers["Location"]
    assert back.startswith(f"{base}/signed-out?state=")
    assert portal.get(path_of(back)).status_code == 302
    assert "Sign in" in portal.get("/").get_data(as_text=True)
