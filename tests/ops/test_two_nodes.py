"""Two nodes of one deployment: two ``foyer run`` (separate server masters, each with its
own instance folder, as on two hosts) on one database and one Redis, behind nginx with the
round-robin configuration docs/operating.md shows. Whatever node serves a request, the
deployment behaves as one: sessions, codes, refresh families, logout, lockouts and rate
limits, and key rotation and configuration changes reach every node within the documented
bound (``FOYER_CACHE_SECONDS``)."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import typing as t
import urllib.parse
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.db import session
from app.testing import CLIENT_REDIRECT_URI
from app.testing import TENANT_HOST
from app.testing import USER_PASSWORD
from app.testing import pkce_pair
from app.testing import read_form
from tests.ops.conftest import ROOT
from tests.ops.conftest import FoyerRun
from tests.ops.conftest import free_port
from tests.ops.conftest import node_settings

CACHE_SECONDS = 1
"""The nodes' ``FOYER_CACHE_SECONDS``: the bound every change must be seen within."""
MAX_FAILED_LOGINS = 3
RATE_LIMIT_LOGIN = 8
"""Credential POSTs per address and hour (the guesser of the lockout needs all eight)."""


def nginx_binary() -> str:
    """nginx from the OS packages; in CI (``CI=true``) its absence fails the test."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if found:
        return found
    reason = "nginx is not installed (scripts/test installs it as root: apt-get install nginx)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def documented_site() -> str:
    """The nginx configuration docs/operating.md gives operators, as written there."""
    text = (ROOT / "docs" / "operating.md").read_text()
    section = text[text.index("### A load balancer in front") :]
    match = re.search(r"```nginx\n(.*?)```", section, re.S)
    assert match, "docs/operating.md lost its nginx sample"
    return match.group(1)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for the tenant's host and 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TENANT_HOST)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(TENANT_HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Nginx:
    """nginx as a user runs it: the documented site, its addresses, port and certificate
    replaced, inside a main configuration whose pid, logs and temporary files stay in
    ``folder``. Each answer says which node served it (``X-Upstream``)."""

    def __init__(self, binary: str, folder: Path, nodes: list[FoyerRun]) -> None:
        folder.mkdir()
        self.folder = folder
        self.port = free_port()
        self.cert, key = self_signed(folder)
        site = documented_site()
        for placeholder, value in {
            "10.0.0.11:8000": f"127.0.0.1:{nodes[0].port}",
            "10.0.0.12:8000": f"127.0.0.1:{nodes[1].port}",
            "listen 443 ssl;": f"listen 127.0.0.1:{self.port} ssl;",
            "/etc/ssl/foyer/fullchain.pem": str(self.cert),
            "/etc/ssl/foyer/privkey.pem": str(key),
            # the test is the first of two proxies: nginx adds its scheme to the test's, as
            # it adds to X-Forwarded-For (with nginx alone, $scheme is the whole header)
            "X-Forwarded-Proto $scheme;": 'X-Forwarded-Proto "$http_x_forwarded_proto, $scheme";',
        }.items():
            assert placeholder in site, placeholder
            site = site.replace(placeholder, value)
        (folder / "foyer.conf").write_text(site)
        temp = "\n".join(
            f"    {kind}_temp_path {folder / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers read the temp folder
        (folder / "nginx.conf").write_text(
            f"{user}worker_processes 1;\ndaemon off;\npid {folder / 'nginx.pid'};\n"
            f"error_log {folder / 'error.log'} warn;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            "    access_log off;\n"
            f"{temp}\n"
            "    add_header X-Upstream $upstream_addr always;\n"
            f"    include {folder / 'foyer.conf'};\n"
            "}\n"
        )
        command = [binary, "-p", str(folder), "-c", str(folder / "nginx.conf")]
        command += ["-e", str(folder / "error.log")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        self.process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        self.base = f"https://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{self.base}/health/live", verify=str(self.cert), timeout=2)
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.process.kill()
                    raise RuntimeError((folder / "error.log").read_text()) from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Browser:
    """One user agent behind the balancer, speaking from ``ip`` (the test plays a proxy in
    front of nginx, so the nodes trust two hops). ``node=`` sends a request to that node:
    round robin alternates, so a probe first moves the balancer on when needed."""

    def __init__(self, balancer: Nginx, nodes: list[FoyerRun], ip: str) -> None:
        self.balancer = balancer
        self.nodes = {f"127.0.0.1:{node.port}": number for number, node in enumerate(nodes)}
        self.session = requests.Session()
        self.verify = str(balancer.cert)  # per request: REQUESTS_CA_BUNDLE would win otherwise
        self.session.headers.update(
            {"Host": TENANT_HOST, "X-Forwarded-For": ip, "X-Forwarded-Proto": "https"}
        )
        self.last: int | None = None
        self.served: list[int] = []

    def request(self, method: str, target: str, node: int | None = None, **kw: t.Any) -> t.Any:
        parts = urllib.parse.urlsplit(target)
        url = self.balancer.base + parts.path + ("?" + parts.query if parts.query else "")
        if node is not None:
            while self.last is None or self.last == node:  # the next one goes to the other
                probe = self.session.get(
                    f"{self.balancer.base}/health/live", timeout=30, verify=self.verify
                )
                self.last = self.nodes[probe.headers["X-Upstream"]]
        answer = self.session.request(
            method, url, allow_redirects=False, timeout=30, verify=self.verify, **kw
        )
        self.last = self.nodes[answer.headers["X-Upstream"]]
        self.served.append(self.last)
        assert node is None or self.last == node, (self.last, node)
        return answer

    def get(self, target: str, node: int | None = None, **kw: t.Any) -> t.Any:
        return self.request("GET", target, node, **kw)

    def post(self, target: str, node: int | None = None, **kw: t.Any) -> t.Any:
        return self.request("POST", target, node, **kw)

    def follow(self, answer: t.Any) -> t.Any:
        while answer.status_code in (302, 303) and not answer.headers["Location"].startswith(
            "https://app.test/"
        ):
            answer = self.get(answer.headers["Location"])
        return answer

    def login(self, email: str, password: str, node: int | None = None) -> t.Any:
        """The hosted pages: identifier, then password (that POST on ``node``)."""
        page = self.follow(self.get("/login"))
        form = read_form(page.text, "login-identifier-form")
        step = self.post(form.action, data={**form.fields, "identifier": email})
        if step.status_code != 303:
            return step
        page = self.follow(step)
        form = read_form(page.text, "login-password-form")
        return self.post(form.action, node, data={**form.fields, "password": password})


def authorize_query(client_id: str, **extra: str) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CLIENT_REDIRECT_URI,
        "scope": "openid email offline_access",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return "/authorize?" + urllib.parse.urlencode(query), verifier


def answer_of(location: str) -> dict[str, str]:
    assert location.startswith(CLIENT_REDIRECT_URI), location
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def kid_of(jwt: str) -> str:
    header = jwt.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


@pytest.fixture
def two_nodes(tmp_path, foyer_app, foyer_run) -> t.Iterator[tuple[Nginx, list[FoyerRun]]]:
    binary = nginx_binary()
    env = {
        "FOYER_SECURE_COOKIES": "true",
        "FOYER_TRUSTED_PROXIES": "2",
        "FOYER_CACHE_SECONDS": str(CACHE_SECONDS),
        "FOYER_RATE_LIMIT_LOGIN": f"{RATE_LIMIT_LOGIN} per hour",
    }
    nodes = [
        foyer_run.start(
            tmp_path / name,
            workers=1,
            FOYER_INSTANCE_PATH=str(tmp_path / name / "instance"),
            **env,
        )
        for name in ("node-a", "node-b")
    ]
    for node in nodes:
        node.wait_until_up()
    balancer = Nginx(binary, tmp_path / "nginx", nodes)
    yield balancer, nodes
    balancer.stop()


@pytest.fixture
def tenant(tenant):
    tenant.settings = {
        **(tenant.settings or {}),
        "attack_protection": {"max_failed_logins": MAX_FAILED_LOGINS},
    }
    session.commit()
    return tenant


def test_two_nodes_behind_nginx_serve_as_one(
    two_nodes, foyer_app, tenant, user, oidc_client, recorded_events, tmp_path
):
    balancer, nodes = two_nodes
    model, secret = oidc_client
    basic = {
        "Authorization": "Basic "
        + base64.b64encode(f"{model.client_id}:{secret}".encode()).decode()
    }
    browser = Browser(balancer, nodes, "198.51.100.7")

    # a sign-in whose pages alternate between the nodes, no stickiness
    target, verifier = authorize_query(model.client_id)
    page = browser.follow(browser.get(target))
    form = read_form(page.text, "login-identifier-form")
    step = browser.post(form.action, data={**form.fields, "identifier": user.email})
    page = browser.follow(step)
    form = read_form(page.text, "login-password-form")
    step = browser.post(form.action, data={**form.fields, "password": USER_PASSWORD})
    assert step.status_code == 303, step.text[:500]
    back = browser.follow(step)
    issued_by = browser.last
    code = answer_of(back.headers["Location"])["code"]
    assert set(browser.served) == {0, 1}

    def redeem(code: str, verifier: str, node: int) -> t.Any:
        exchange = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CLIENT_REDIRECT_URI,
            "code_verifier": verifier,
        }
        return browser.post("/oauth/token", node, data=exchange, headers=basic)

    # the code, issued by one node, is redeemed on the other
    answer = redeem(code, verifier, 1 - issued_by)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()

    # the SSO session is valid on both nodes
    silent_codes = []
    for node in (0, 1):
        target, silent_verifier = authorize_query(model.client_id, prompt="none")
        silent = browser.follow(browser.get(target, node))
        silent_codes.append((answer_of(silent.headers["Location"])["code"], silent_verifier))

    # a code is redeemed once, whichever node is asked (a second try revokes what the first
    # got, so this one is a code of its own)
    assert redeem(*silent_codes[0], 1).status_code == 200
    again = redeem(*silent_codes[0], 0)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    def refresh(token: str, node: int, status: int = 200) -> dict[str, t.Any]:
        answer = browser.post(
            "/oauth/token",
            node,
            data={"grant_type": "refresh_token", "refresh_token": token},
            headers=basic,
        )
        assert answer.status_code == status, answer.text
        return t.cast("dict[str, t.Any]", answer.json())

    # each node has the key ring and the tenant in hand before the changes
    first = refresh(tokens["refresh_token"], 0)
    second = refresh(first["refresh_token"], 1)
    old_kid = kid_of(tokens["access_token"])
    assert kid_of(first["access_token"]) == kid_of(second["access_token"]) == old_kid
    visitor = Browser(balancer, nodes, "198.51.100.11")  # signed in nowhere: sees the page

    def brand_on(node: int) -> str:
        started = visitor.get("/login")  # a sign-in starts, then its page on ``node``
        page = visitor.get(started.headers["Location"], node)
        assert page.status_code == 200
        return str(re.search(r"<title>(.*?)</title>", page.text, re.S).group(1))  # type: ignore[union-attr]

    for node in (0, 1):
        assert brand_on(node).endswith("Acme Inc.")

    # an operator rotates the keys and applies a configuration, from other processes
    config = tmp_path / "acme.yaml"
    config.write_text(
        "version: 1\n"
        "tenant:\n"
        "  name: acme\n"
        "  display_name: Acme on two nodes\n"
        f"  domains: [https://{TENANT_HOST}]\n"
        f"  attack_protection: {{max_failed_logins: {MAX_FAILED_LOGINS}}}\n"
    )
    commands = [
        subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", *arguments],
            env={**os.environ, "PYTHONPATH": str(ROOT), **node_settings(foyer_app)},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for arguments in (["keys", "rotate", "--tenant", "acme"], ["apply", str(config)])
    ]
    outputs = [command.communicate(timeout=180)[0] for command in commands]
    assert [command.returncode for command in commands] == [0, 0], outputs
    new_kid = re.search(r"RS256 now signs with (\S+)", outputs[0]).group(1)  # type: ignore[union-attr]
    assert new_kid != old_kid
    time.sleep(CACHE_SECONDS + 0.2)  # the documented bound, and the clock's grain

    third = refresh(second["refresh_token"], 0)
    fourth = refresh(third["refresh_token"], 1)
    assert kid_of(third["access_token"]) == kid_of(fourth["access_token"]) == new_kid
    for node in (0, 1):
        assert brand_on(node).endswith("Acme on two nodes")

    # a rotated refresh token played again on one node ends the family on both
    assert refresh(second["refresh_token"], 1, 400)["error"] == "invalid_grant"
    assert refresh(fourth["refresh_token"], 0, 400)["error"] == "invalid_grant"
    assert len(recorded_events("refresh_token_reused")) == 1

    # signing out on one node ends the session on the other, even for a copy of the cookie
    kept = browser.session.cookies.copy()
    out = browser.get(
        "/oidc/logout?"
        + urllib.parse.urlencode(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "https://app.test/signed-out",
            }
        ),
        0,
    )
    assert out.headers["Location"].startswith("https://app.test/signed-out"), out.headers
    browser.session.cookies = kept
    silent = browser.follow(browser.get(authorize_query(model.client_id, prompt="none")[0], 1))
    assert answer_of(silent.headers["Location"])["error"] == "login_required"

    # wrong passwords on alternate nodes block the pair after the tenant's figure, in all:
    # the right password on the node that saw fewer of them is refused too
    guesser = Browser(balancer, nodes, "198.51.100.8")
    for attempt in range(MAX_FAILED_LOGINS):
        answer = guesser.login(user.email, "a wrong password", node=attempt % 2)
        assert answer.status_code == 400
    assert len(recorded_events("login_pair_blocked")) == 1
    refused = guesser.login(user.email, USER_PASSWORD, node=1)
    assert refused.status_code == 400
    elsewhere = Browser(balancer, nodes, "198.51.100.10")
    assert elsewhere.login(user.email, USER_PASSWORD, node=1).status_code == 303

    # the per-address limit counts the credential POSTs of both nodes together
    sprayer = Browser(balancer, nodes, "198.51.100.9")
    statuses = []
    for attempt in range(RATE_LIMIT_LOGIN):  # two credential POSTs an attempt
        answer = sprayer.login(f"nobody{attempt}@example.com", "a guess", node=attempt % 2)
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            break
    assert statuses == [400] * (RATE_LIMIT_LOGIN // 2) + [429]
    assert set(sprayer.served) == {0, 1}
