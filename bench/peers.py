"""Peers measured in the same run: npm's ``oidc-provider`` (and Canaille, bench/canaille.py).

``oidc-provider`` is installed under ``bench/peers/node_modules`` by ``npm install`` (see
bench/README.md) and started as one Node.js process (Node serves on one core; its figures
per busy core are what the comparison uses).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bench.scenarios import Target
from bench.scenarios import oidc_provider_login
from bench.server import Server

PEERS_DIR = Path(__file__).resolve().parent / "peers"


def oidc_provider_available() -> str | None:
    """Why oidc-provider cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (PEERS_DIR / "node_modules" / "oidc-provider").is_dir():
        return "run `npm install` in bench/peers first"
    return None


def oidc_provider_version() -> str:
    import json

    package = PEERS_DIR / "node_modules" / "oidc-provider" / "package.json"
    return str(json.loads(package.read_text())["version"])


def start_oidc_provider(port: int, secret: str, workdir: Path) -> tuple[Server, Target]:
    log = workdir / f"oidc-provider-{port}.log"
    process = subprocess.Popen(
        ["node", str(PEERS_DIR / "oidc_provider.mjs"), str(port), secret],
        cwd=PEERS_DIR,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "NODE_ENV": "production"},
    )
    server = Server(process, port, log)
    server.name = "oidc-provider"
    target = Target(
        name="oidc-provider",
        port=port,
        host=f"localhost:{port}",
        client_secret=secret,
        authorize_path="/auth",
        token_path="/token",
        jwks_path="/jwks",
        userinfo_path="/me",
        userinfo_client="bench-rp-userinfo",
        offline_params={"prompt": "consent"},
        sso_scope="openid profile email api.read",
        login=oidc_provider_login("ada@bench.example"),
    )
    server.wait_until_up(f"http://127.0.0.1:{port}/.well-known/openid-configuration", target.host)
    return server, target


def cannot_measure(server: str, scenario: str) -> str | None:
    """Why a peer cannot run a scenario of the table, or None."""
    if server.startswith("canaille") and scenario == "refresh_rotation":
        return (
            "its refresh grant gave two users of one client the same access token within "
            "one second here, so a second refresh in that second fails its unique "
            "constraint with a 500"
        )
    return None


def storage(server: str) -> str:
    """Where a peer keeps its data, said beside its figures."""
    if server.startswith("canaille"):
        return "SQLite"
    return "in-process memory"
