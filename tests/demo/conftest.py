"""The demo's tests: plain-http settings, free loopback ports, servers in threads."""

from __future__ import annotations

import socket
import threading
import typing as t

import pytest
from werkzeug.serving import make_server


@pytest.fixture
def foyer_config(foyer_config: dict[str, t.Any]) -> dict[str, t.Any]:
    """As ``foyer demo`` runs: plain http on localhost, so cookies are not Secure."""
    return {**foyer_config, "secure_cookies": False, "demo": True}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve() -> t.Iterator[t.Callable[[t.Any, int], None]]:
    """``serve(wsgi_app, port)``: run an app on 127.0.0.1:port until the test ends."""
    servers = []

    def start(app: t.Any, port: int) -> None:
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
