"""The Flask example of docs/connecting-apps.md works as written against a real server."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

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
    model, secret = make_client(
        name="Customer portal",
        redirect_uris=["http://localhost/callback"],
        post_logout_redirect_uris=["http://localhost/signed-out"],
    )
    monkeypatch.setenv("FOYER_ISSUER", live_server)
    monkeypatch.setenv("FOYER_CLIENT_ID", model.client_id)
    monkeypatch.setenv("FOYER_CLIENT_SECRET", secret)
    monkeypatch.setenv("APP_SECRET_KEY", "portal-test-secret")
    namespace: dict[str, t.Any] = {"__name__": "portal"}
    exec(compile(example_source(), str(DOC), "exec"), namespace)  # noqa: S102
    portal = namespace["app"].test_client()

    assert "Sign in" in portal.get("/").get_data(as_text=True)
    to_foyer = portal.get("/login").headers["Location"]
    assert to_foyer.startswith(f"{live_server}/authorize?")
    back = browser.get(to_foyer, allow_redirects=False, timeout=10).headers["Location"]
    assert back.startswith("http://localhost/callback?")
    assert portal.get(path_of(back)).status_code == 302
    assert "Hello Alice Example" in portal.get("/").get_data(as_text=True)

    to_logout = portal.get("/logout").headers["Location"]
    assert to_logout.startswith(f"{live_server}/oidc/logout?")
    back = browser.get(to_logout, allow_redirects=False, timeout=10).headers["Location"]
    assert back.startswith("http://localhost/signed-out?state=")
    assert portal.get(path_of(back)).status_code == 302
    assert "Sign in" in portal.get("/").get_data(as_text=True)
