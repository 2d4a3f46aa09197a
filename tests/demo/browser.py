"""A minimal browser for the demo's sign-in: follows redirects and submits the page's form.

requests keeps cookies per host (not per port), as browsers do, so Foyer's and the demo
application's cookies travel the way they do in a real browser on ``localhost``.
"""

from __future__ import annotations

import typing as t
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


class _Forms(HTMLParser):
    """The page's POST forms: action and inputs (name -> (type, value))."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, t.Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and values.get("method", "get").lower() == "post":
            self.forms.append(
                {"id": values.get("id", ""), "action": values.get("action", ""), "inputs": {}}
            )
        elif tag in ("input", "button") and self.forms and "name" in values:
            self.forms[-1]["inputs"][values["name"]] = (
                values.get("type", "text"),
                values.get("value", ""),
            )


def forms(html: str) -> list[dict[str, t.Any]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class Browser:
    def __init__(self) -> None:
        self.http = requests.Session()

    def submit(
        self, response: requests.Response, fields: dict[str, str], form_id: str | None = None
    ) -> requests.Response:
        """Fill and post a form of the page (the first one, or ``form_id``)."""
        found = forms(response.text)
        form = next(f for f in found if form_id in (None, f["id"]))
        data = {
            name: value
            for name, (kind, value) in form["inputs"].items()
            if kind != "submit" or name in fields
        }
        for name, (kind, _) in form["inputs"].items():
            if kind == "password" and "password" in fields:
                data[name] = fields["password"]
        data.update({k: v for k, v in fields.items() if k != "password"})
        return self.http.post(
            urljoin(response.url, form["action"] or response.url), data=data, timeout=10
        )

    def sign_in(
        self, rp_url: str, email: str, password: str, organization: str | None = None
    ) -> requests.Response:
        """Press the demo application's Sign in button and sign in on Foyer's pages."""
        home = self.http.get(rp_url, timeout=10)
        button = {"organization": organization} if organization else {}
        page = self.submit(home, button)
        page = self.submit(page, {"identifier": email})
        return self.submit(page, {"password": password})

    def sign_out(self, page: requests.Response) -> requests.Response:
        """Press the demo application's Sign out button (and confirm on Foyer if asked)."""
        result = self.submit(page, {})
        while forms(result.text) and "/logout" in result.url:
            result = self.submit(result, {})
        return result
