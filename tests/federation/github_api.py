"""A local stand-in for GitHub in the social sign-in tests: a real HTTP server on a loopback
port that speaks GitHub's OAuth 2.0 (``/login/oauth/authorize``, ``/login/oauth/access_token``
with its habit of answering errors with HTTP 200, and form-encoded unless JSON is asked) and
the REST API shapes Foyer reads (``/api/user``, ``/api/user/emails``). PKCE is checked as
GitHub does since 2025: the verifier must hash to the challenge.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import typing as t
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import requests

CLIENT_ID = "Iv1.foyer-test"
CLIENT_SECRET = "github client secret"


class GitHub:
    def __init__(self) -> None:
        self.users: dict[str, dict[str, t.Any]] = {}
        self.codes: dict[str, dict[str, t.Any]] = {}
        self.tokens: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []
        self.default_login: str | None = None
        """Who approves when a browser comes without ``test_login`` (a real browser)."""
        handler = type("Handler", (_Handler,), {"github": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def user(self, login: str, id: int, name: str | None, emails: list[dict] | None) -> None:
        """A GitHub account; ``emails`` None: ``/user/emails`` answers 404 (no scope)."""
        self.users[login] = {"id": id, "login": login, "name": name, "emails": emails}

    def options(self, **more: t.Any) -> dict[str, t.Any]:
        return {
            "client_id": CLIENT_ID,
            "base_url": self.base,
            "api_url": f"{self.base}/api",
            **more,
        }

    def sign_in(self, authorize_url: str, login: str | None) -> str:
        """The user approves (``login``) or cancels (None) at GitHub: the callback URL."""
        extra = {"test_login": login} if login else {"test_cancel": "1"}
        answer = requests.get(
            f"{authorize_url}&{urlencode(extra)}", allow_redirects=False, timeout=5
        )
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]


class _Handler(BaseHTTPRequestHandler):
    github: GitHub

    def log_message(self, *args: t.Any) -> None:
        pass

    def send(self, status: int, body: t.Any, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.github.requests.append(("GET", parts.path))
        if parts.path == "/login/oauth/authorize":
            return self.authorize(query)
        login = self.github.tokens.get(self.headers.get("Authorization", "")[len("Bearer ") :])
        if login is None:
            return self.send(401, {"message": "Bad credentials"})
        user = self.github.users[login]
        if parts.path == "/api/user":
            email = next((e["email"] for e in user["emails"] or [] if e.get("visibility")), None)
            return self.send(
                200,
                {
                    "id": user["id"],
                    "login": login,
                    "name": user["name"],
                    "email": email,
                    "avatar_url": f"{self.github.base}/avatars/{user['id']}",
                    "html_url": f"{self.github.base}/{login}",
                    "type": "User",
                },
            )
        if parts.path == "/api/user/emails":
            if user["emails"] is None:
                return self.send(404, {"message": "Not Found"})
            return self.send(200, user["emails"])
        return self.send(404, {"message": "Not Found"})

    def authorize(self, query: dict[str, str]) -> None:
        redirect_uri = query["redirect_uri"]
        if query.get("client_id") != CLIENT_ID:
            return self.send(404, "unknown client", "text/plain")
        login = query.get("test_login") or self.github.default_login
        if "test_cancel" in query or login is None:
            params = {"error": "access_denied", "state": query["state"]}
        else:
            code = secrets.token_hex(10)
            self.github.codes[code] = {**query, "login": login}
            params = {"code": code, "state": query["state"]}
        self.send_response(302)
        self.send_header("Location", f"{redirect_uri}?{urlencode(params)}")
        self.end_headers()

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        self.github.requests.append(("POST", parts.path))
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if parts.path != "/login/oauth/access_token":
            return self.send(404, {"message": "Not Found"})
        grant = self.github.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            body = {"error": "incorrect_client_credentials"}
        elif (
            grant is None
            or grant["redirect_uri"] != form.get("redirect_uri")
            or grant.get("code_challenge") != challenge
        ):
            body = {"error": "bad_verification_code"}
        else:
            token = "gho_" + secrets.token_hex(16)
            self.github.tokens[token] = grant["login"]
            body = {"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}
        if "application/json" in self.headers.get("Accept", ""):
            return self.send(200, body)
        return self.send(200, urlencode(body), "application/x-www-form-urlencoded")
