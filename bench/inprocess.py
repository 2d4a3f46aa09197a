"""Run one bench scenario inside this process, against the WSGI app, with no HTTP server.

``python -m bench.instructions`` runs this module under callgrind to count the machine
instructions an operation costs; it is also useful alone, under a profiler:

    .venv/bin/python -m bench.inprocess sso_sign_in 200

It seeds a throwaway SQLite instance as ``python -m bench`` does, builds the app with
``create_app()``, then runs the scenario's setup, three warm-up operations and ``OPS``
operations through :class:`InProcessClient`, which hands each request to the app the way a
WSGI server would. Only the code of the checkout on ``sys.path`` is exercised, so two
commits can be compared with the same driver.
"""

from __future__ import annotations

import email.message
import json
import logging
import os
import sys
import tempfile
import time
import typing as t
from pathlib import Path
from urllib.parse import urlencode
from urllib.parse import urlsplit

from werkzeug.test import EnvironBuilder
from werkzeug.test import run_wsgi_app

from bench import http
from bench import scenarios
from bench import seed

PORT = 8443
"""The port the seeded tenant's URLs name; nothing listens on it."""

SCENARIOS: dict[str, t.Callable[[scenarios.Target], tuple[t.Any, t.Any]]] = {
    "full_sign_in": scenarios.full_sign_in,
    "sso_sign_in": scenarios.sso_sign_in,
    "client_credentials": scenarios.client_credentials,
    "refresh_rotation": scenarios.refresh_rotation,
    "login_page": lambda target: scenarios.login_page(target, f"acme.localhost:{PORT}", "fr"),
    "discovery": lambda target: scenarios.fetch(target, target.discovery_path),
    "jwks": lambda target: scenarios.fetch(target, target.jwks_path),
    "userinfo": lambda target: userinfo(target),
    "introspection": lambda target: introspection(target),
}


def _signed_in_token(target: scenarios.Target) -> str:
    """A user's access token (meant for the provider too: ``openid`` scope)."""
    return str(scenarios.sign_in(target, target.client())["access_token"])


def userinfo(target: scenarios.Target) -> tuple[t.Any, t.Any]:
    """An application reads the signed-in user's claims with its access token."""

    def setup(_i: int) -> tuple[http.Client, dict[str, str]]:
        return target.client(), {"Authorization": f"Bearer {_signed_in_token(target)}"}

    def step(state: tuple[http.Client, dict[str, str]]) -> int:
        client, headers = state
        answer = http.expect(client.get("/userinfo", headers=headers), 200, "userinfo")
        if b'"sub"' not in answer.body:
            raise http.UnexpectedResponse("userinfo has no sub", answer)
        return 1

    return setup, step


def introspection(target: scenarios.Target) -> tuple[t.Any, t.Any]:
    """A resource server (the web client's back end) asks whether an access token is active."""
    headers = http.basic_auth(target.web_client, target.client_secret)

    def setup(_i: int) -> tuple[http.Client, dict[str, str]]:
        return target.client(), {"token": _signed_in_token(target)}

    def step(state: tuple[http.Client, dict[str, str]]) -> int:
        client, form = state
        answer = http.expect(
            client.post("/oauth/introspect", form, headers=headers), 200, "introspection"
        )
        if json.loads(answer.body).get("active") is not True:
            raise http.UnexpectedResponse("the token is not active", answer)
        return 1

    return setup, step


class InProcessClient(http.Client):
    """:class:`bench.http.Client`, its requests handed straight to a WSGI app."""

    app: t.Any = None

    def request(
        self,
        method: str,
        target: str,
        form: t.Mapping[str, str] | None = None,
        headers: t.Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> http.Response:
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        send = {"Host": self.host, "Accept-Language": "en", **self.headers, **(headers or {})}
        if "X-Forwarded-For" in self.headers:
            send["X-Forwarded-For"] = http.client_address()
        if self.cookies:
            send["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            body = urlencode(form).encode()
            send["Content-Type"] = "application/x-www-form-urlencoded"
        path, _, query = target.partition("?")
        environ = EnvironBuilder(
            path=path, query_string=query, method=method, headers=send, data=body
        ).get_environ()
        environ["REMOTE_ADDR"] = "127.0.0.1"
        started = time.perf_counter()
        app_iter, status, answer = run_wsgi_app(self.app, environ, buffered=True)
        try:
            data = b"".join(app_iter)
        finally:
            getattr(app_iter, "close", lambda: None)()
        seconds = time.perf_counter() - started
        self.latencies.append(seconds)
        message = email.message.Message()
        for key, value in answer.items():
            message[key] = value
        for header in answer.getlist("Set-Cookie"):
            name, _, rest = header.partition("=")
            if "max-age=0" in header.lower() or "expires=thu, 01 jan 1970" in header.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return http.Response(int(status.split()[0]), message, data, seconds)


def prepare(workdir: Path) -> scenarios.Target:
    """Seed an instance in ``workdir``, build its app in this process; the bench target."""
    (workdir / "plugins").mkdir(parents=True, exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FOYER_")},
        "FOYER_INSTANCE_PATH": str(workdir / "instance"),
        "FOYER_PLUGINS_DIR": str(workdir / "plugins"),
        "FOYER_THEMES_DIR": str(seed.BENCH_DIR / "themes"),
        "FOYER_TRUSTED_PROXIES": "1",
    }
    variables = seed.apply_bench_tenant(env, PORT)
    os.environ.clear()
    os.environ.update(env)
    from app import create_app  # the checkout under test: imported once it is configured

    logging.disable(logging.WARNING)
    InProcessClient.app = create_app()
    target = scenarios.Target(
        name="foyer",
        port=PORT,
        host=f"localhost:{PORT}",
        client_secret=variables["BENCH_CLIENT_SECRET"],
        login=scenarios.foyer_login(seed.USERS[0], seed.PASSWORD),
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"},
    )
    target.client = lambda host=None: InProcessClient(  # type: ignore[method-assign]
        ("127.0.0.1", PORT), host or target.host, target.headers
    )
    return target


def run(name: str, ops: int) -> None:
    """The scenario's setup, three warm-up operations, then ``ops`` operations."""
    target = prepare(Path(tempfile.mkdtemp(prefix="foyer-inprocess-")))
    setup, step = SCENARIOS[name](target)
    state = setup(0)
    for _ in range(3 + ops):
        step(state)


def main() -> None:
    name, ops = sys.argv[1], int(sys.argv[2])
    if name not in SCENARIOS:
        raise SystemExit(f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)}")
    run(name, ops)


if __name__ == "__main__":
    main()
