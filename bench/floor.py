"""``python -m bench.floor``: what client_credentials costs on Foyer's stack with nothing
of Foyer in it, beside what it costs Foyer.

A ratio to the peer says how far Foyer is from node's oidc-provider; it does not say how
much of the gap Foyer's own code could close. This answers that for the simplest token
request. Three apps get the same request (the bench's ``client_credentials`` operation,
HTTP Basic, ``scope=api.read``), in this process, each under the same measurement (CPU time
of the thread around the WSGI call, no HTTP server):

- **Foyer**, seeded as :mod:`bench.inprocess` seeds it (SQLite);
- **Flask + authlib**: the bare stack: authlib's authorization server with its
  client_credentials grant, the client read with one SQLAlchemy Core statement from SQLite,
  an RS256 JWT access token from joserfc; no tenant, rate limit, event, hook or header;
- **Flask alone**: the same client lookup and token in a plain Flask view, without authlib.

and one RS256 signature alone, which every one of them (the peer included) pays once:

    .venv/bin/python -m bench.floor            # 3 rounds of 1,000 requests, taking turns
    .venv/bin/python -m bench.floor --ops 300 --rounds 5
"""

from __future__ import annotations

import argparse
import base64
import secrets
import statistics
import tempfile
import time
import typing as t
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask import jsonify
from flask import request
from joserfc import jwt
from joserfc.jwk import RSAKey

from bench import inprocess
from bench import scenarios

SCOPE = "api.read"

CLIENTS = sa.Table(
    "clients",
    sa.MetaData(),
    sa.Column("client_id", sa.String, primary_key=True),
    sa.Column("secret", sa.String, nullable=False),
)
CLIENT_BY_ID = sa.select(CLIENTS).where(CLIENTS.c.client_id == sa.bindparam("client_id"))


class Stack:
    """What both bare apps share: the client table on SQLite and the signing key."""

    def __init__(self, folder: Path, client_id: str, secret: str) -> None:
        self.engine = sa.create_engine(f"sqlite:///{folder / 'floor.db'}")
        CLIENTS.metadata.create_all(self.engine)
        with self.engine.begin() as connection:
            connection.execute(CLIENTS.insert(), {"client_id": client_id, "secret": secret})
        self.key = RSAKey.generate_key(2048, parameters={"kid": "floor"})
        self.client_id = client_id

    def client_row(self, client_id: str) -> t.Any:
        with self.engine.connect() as connection:
            return connection.execute(CLIENT_BY_ID, {"client_id": client_id}).first()

    def access_token(self, client_id: str, scope: str) -> str:
        """The claims of Foyer's client_credentials access token, signed RS256."""
        now = int(time.time())
        claims = {
            "iss": "https://floor.test",
            "sub": client_id,
            "aud": "https://floor.test/api",
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(16),
            "client_id": client_id,
            "scope": scope,
        }
        return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "floor"}, claims, self.key)


def with_authlib(stack: Stack, token_path: str) -> Flask:
    """The bare stack: authlib's server and grant, Flask, SQLAlchemy Core, joserfc."""
    from authlib.integrations.flask_oauth2 import AuthorizationServer
    from authlib.oauth2.rfc6749 import ClientMixin
    from authlib.oauth2.rfc6749 import grants

    class Client(ClientMixin):  # type: ignore[misc]
        def __init__(self, row: t.Any) -> None:
            self.row = row

        def get_client_id(self) -> str:
            return str(self.row.client_id)

        def get_allowed_scope(self, scope: str) -> str:
            return scope

        def check_client_secret(self, client_secret: str) -> bool:
            return secrets.compare_digest(client_secret, self.row.secret)

        def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
            return method == "client_secret_basic"

        def check_grant_type(self, grant_type: str) -> bool:
            return grant_type == "client_credentials"

    def query_client(client_id: str) -> Client | None:
        row = stack.client_row(client_id)
        return None if row is None else Client(row)

    def generate(grant_type: str, client: Client, **kwargs: t.Any) -> dict[str, t.Any]:
        scope = kwargs.get("scope") or ""
        token = stack.access_token(client.get_client_id(), scope)
        return {"token_type": "Bearer", "access_token": token, "expires_in": 300, "scope": scope}

    app = Flask("floor_authlib")
    server = AuthorizationServer(app, query_client=query_client, save_token=lambda *_: None)
    server.register_grant(grants.ClientCredentialsGrant)
    server.register_token_generator("default", generate)
    app.add_url_rule(token_path, "token", server.create_token_response, methods=["POST"])
    return app


def flask_alone(stack: Stack, token_path: str) -> Flask:
    """The same answer from a plain view: what authlib's machinery costs on top."""
    app = Flask("floor_flask")

    def token() -> t.Any:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        client_id, _, secret = base64.b64decode(credentials).decode().partition(":")
        row = stack.client_row(client_id)
        if scheme != "Basic" or row is None or not secrets.compare_digest(secret, row.secret):
            return jsonify(error="invalid_client"), 401
        if request.form.get("grant_type") != "client_credentials":
            return jsonify(error="unsupported_grant_type"), 400
        scope = request.form.get("scope", "")
        access_token = stack.access_token(client_id, scope)
        answer = {"token_type": "Bearer", "access_token": access_token, "expires_in": 300}
        return jsonify(answer | {"scope": scope}), 200, {"Cache-Control": "no-store"}

    app.add_url_rule(token_path, "token", token, methods=["POST"])
    return app


def measured(app: t.Any, times: list[float]) -> t.Callable[..., t.Any]:
    """``app``'s WSGI callable, each call's thread CPU time appended to ``times``."""

    def wsgi(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        started = time.thread_time()
        try:
            return app(environ, start_response)
        finally:
            times.append(time.thread_time() - started)

    return wsgi


def signature_ms(stack: Stack, count: int) -> float:
    times = []
    for _ in range(count):
        started = time.thread_time()
        stack.access_token(stack.client_id, SCOPE)
        times.append(time.thread_time() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1000, help="requests per app and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="foyer-floor-"))
    target = inprocess.prepare(folder)
    stack = Stack(folder, target.machine_client, target.client_secret)
    apps = {
        "Foyer": inprocess.InProcessClient.app.wsgi_app,
        "Flask + authlib": with_authlib(stack, target.token_path).wsgi_app,
        "Flask alone": flask_alone(stack, target.token_path).wsgi_app,
    }
    times: dict[str, list[float]] = {name: [] for name in apps}
    names = list(apps)
    for round_ in range(args.rounds + 1):  # the first round warms every app up
        turn = round_ % len(names)  # each round starts with another app
        for name in names[turn:] + names[:turn]:
            app = apps[name]
            client_class = type("Client", (inprocess.InProcessClient,), {})
            recorded: list[float] = []
            client_class.app = staticmethod(measured(app, recorded))
            target.client = lambda client_class=client_class: client_class(  # type: ignore[method-assign]
                ("127.0.0.1", inprocess.PORT), target.host, target.headers
            )
            setup, step = scenarios.client_credentials(target)
            client = setup(0)
            for _ in range(args.ops):
                step(client)
            if round_:
                times[name].append(statistics.median(recorded) * 1000)

    signature = signature_ms(stack, args.ops)
    foyer = statistics.median(times["Foyer"])
    print(f"client_credentials, CPU ms per request, median of {args.rounds} rounds")
    print(f"{'app':<28}{'CPU ms':>8}{'Foyer ÷':>10}")
    for name, rounds in times.items():
        figure = statistics.median(rounds)
        print(f"{name:<28}{figure:>8.3f}{foyer / figure:>9.2f}x")
    print(f"{'one RS256 signature alone':<28}{signature:>8.3f}")


if __name__ == "__main__":
    main()
