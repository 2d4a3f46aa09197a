"""Example legacy store: an old application's login API, called over HTTP with JSON.

::

    connections:
      - name: old-api
        strategy: legacy
        options:
          store: legacy_http
          url: https://old.example.com/api/login        # POST {"username", "password"}
          export_url: https://old.example.com/api/users # GET -> [{"id", "email", ...}]
          timeout: 3
        secrets: {api_key: "${OLD_API_KEY}"}            # sent as a Bearer token

The login API answers 200 with the user as JSON (``id``, ``email``, ``username``,
``email_verified``, ``name``) for a right password, and 401, 403 or 404 otherwise. Anything
else (refused, timed out, 5xx) means the store is down: the user is asked to try again
later and nothing is created. Passwords only travel over https (http for loopback only),
and redirects are not followed, so a password is never re-sent elsewhere.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

import requests

from app import LegacyUser
from app import StrategyUnavailable
from app import hookimpl
from app import time_left

if t.TYPE_CHECKING:
    from app import Connection
    from app import LegacyStore

DEFAULT_TIMEOUT = 5.0
REFUSED = (401, 403, 404)


def _checked_url(url: str) -> str:
    parts = urlsplit(url)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValueError("the legacy store URL must be https (http only for loopback)")
    return url


class HTTPStore:
    name: t.ClassVar[str] = "legacy_http"

    def __init__(self, connection: Connection) -> None:
        options = connection.options or {}
        self.url = _checked_url(str(options.get("url", "")))
        self.export_url = options.get("export_url")
        self.timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
        api_key = connection.get_secrets().get("api_key")
        self.headers = {"Accept": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"

    def _request(self, method: str, url: str, **kwargs: t.Any) -> requests.Response:
        timeout = time_left(self.timeout)
        try:
            return requests.request(
                method,
                url,
                headers=self.headers,
                timeout=(timeout, timeout),
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as exc:  # refused, reset, DNS, timed out
            raise StrategyUnavailable(f"legacy HTTP store: {type(exc).__name__}") from exc

    def authenticate(self, identifier: str, password: str) -> LegacyUser | None:
        response = self._request(
            "POST", self.url, json={"username": identifier, "password": password}
        )
        if response.status_code in REFUSED:
            return None
        if response.status_code != 200:
            raise StrategyUnavailable(f"legacy HTTP store answered {response.status_code}")
        try:
            return _user(response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise StrategyUnavailable("legacy HTTP store answered malformed JSON") from exc

    def export_users(self) -> t.Iterator[LegacyUser]:
        if not self.export_url:
            return
        response = self._request("GET", _checked_url(str(self.export_url)))
        if response.status_code != 200:
            raise StrategyUnavailable(f"legacy HTTP store answered {response.status_code}")
        for item in response.json():
            yield _user(item)


def _user(data: dict[str, t.Any]) -> LegacyUser:
    return LegacyUser(
        id=str(data["id"]),
        email=data.get("email"),
        username=data.get("username"),
        email_verified=bool(data.get("email_verified", False)),
        name=data.get("name"),
    )


@hookimpl
def register_legacy_stores() -> list[type[LegacyStore]]:
    return [HTTPStore]
