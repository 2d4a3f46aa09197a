"""A third-party application built on npm's openid-client (an OpenID Certified relying
party library, ``rp/rp.mjs``) signs in through Foyer while Foyer federates to the
organization's own IdP (npm's oidc-provider): a real Chromium starts at the application,
types a work email at Foyer, signs in at the IdP and comes back through Foyer to the
application, which exchanges the code (PKCE S256, state, nonce) and validates the ID token
with the library. In two browsers, then again with ``prompt=login``: the application sees
the same ``sub`` every time."""

from __future__ import annotations

import json
import subprocess
import threading
import typing as t
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app.clients.services import create_client
from app.connections.services import create_connection
from app.db import session
from app.orgs.services import create_organization
from app.orgs.services import set_email_domains
from app.tenancy.services import create_tenant
from tests.federation.test_social_in_a_browser import chromium  # noqa: F401 - the fixture
from tests.federation.test_social_in_a_browser import foyer_config  # noqa: F401 - the fixture
from tests.federation.test_social_in_a_browser import free_port
from tests.federation.upstream_idp import CLIENT_SECRET
from tests.federation.upstream_idp import UpstreamIdp
from tests.federation.upstream_idp import missing
from tests.federation.upstream_idp import unavailable

RP = Path(__file__).resolve().parent / "rp"


class RelyingParty:
    """``rp.mjs`` running on a loopback port for one registered client of Foyer."""

    def __init__(self, workdir: Path, port: int, settings: dict[str, t.Any]) -> None:
        self.origin = f"http://127.0.0.1:{port}"
        self.client_id = settings["client_id"]
        config = workdir / "rp.json"
        config.write_text(json.dumps({**settings, "port": port}))
        self.log = open(workdir / "rp.log", "w+")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            ["node", str(RP / "rp.mjs"), str(config)],
            cwd=RP,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # discovery done, listening
        if not line.startswith("listening"):
            self.stop()
            raise RuntimeError(f"the relying party did not start: {self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self.process.stdout:
            self.process.stdout.close()
        self.log.close()


@pytest.fixture
def site(foyer_app, tmp_path):
    """Foyer on http://localhost:PORT whose organization ``acme`` signs in ``acme.example``
    addresses at its IdP, and the openid-client application registered as a client."""
    why = missing()
    if why:
        unavailable(why)
    if not (RP / "node_modules" / "openid-client").is_dir():
        unavailable(f"openid-client is not installed: run scripts/setup (npm ci in {RP})")
    port, rp_port = free_port(), free_port()
    base = f"http://localhost:{port}"
    idp = UpstreamIdp(tmp_path / "idp", callbacks=[f"{base}/login/callback"])
    tenant = create_tenant("web", "Web", [base])
    sso = create_connection(
        tenant,
        "acme-sso",
        "oidc",
        "Acme SSO",
        options=idp.options(),
        secrets={"client_secret": CLIENT_SECRET},
    )
    acme = create_organization(tenant, "acme", "Acme Corporation", connections=[sso])
    set_email_domains(acme, [("acme.example", False, sso.id)])
    client, secret = create_client(
        tenant, "Acme portal", redirect_uris=[f"http://127.0.0.1:{rp_port}/callback"]
    )
    session.commit()
    server = make_server("127.0.0.1", port, foyer_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rp = None
    try:
        rp = RelyingParty(
            tmp_path,
            rp_port,
            {"issuer": base, "client_id": client.client_id, "client_secret": secret},
        )
        yield base, rp, idp
    finally:
        if rp:
            rp.stop()
        server.shutdown()
        server.server_close()
        idp.stop()


def sign_in(
    context: t.Any, base: str, rp: RelyingParty, idp: UpstreamIdp, query: str = ""
) -> dict[str, t.Any]:
    """From the application's sign-in link to its callback in the browser ``context``;
    returns what the application answered."""
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{rp.origin}/login{query}")
    assert page.url.startswith(f"{base}/"), page.url  # at Foyer
    page.locator("#identifier").fill("lee@acme.example")
    page.locator("#submit").click()
    page.wait_for_url(f"{idp.issuer}/**")
    page.locator("input[name=login]").fill("lee")
    page.locator("input[name=password]").fill("the IdP checks its own passwords")
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{rp.origin}/callback**")
    answer = json.loads(page.locator("body").inner_text())
    page.close()
    assert "error" not in answer, (answer, rp.output())
    return answer


def test_a_certified_client_library_signs_in_through_the_federation_twice(site, chromium):  # noqa: F811
    base, rp, idp = site
    idp.person("lee", email="lee@acme.example", email_verified=True, name="Lee Adams")
    one, other = (chromium.new_context(locale="en-US") for _ in range(2))
    first = sign_in(one, base, rp, idp)
    second = sign_in(other, base, rp, idp)  # another browser
    third = sign_in(one, base, rp, idp, "?prompt=login")  # the first again, forced to sign in
    for answer in (first, second, third):
        claims = answer["claims"]
        assert answer["validated"] is True
        # checked by openid-client: issuer, audience, nonce, and the signature (Foyer's JWKS)
        assert claims["iss"] == base
        assert claims["aud"] == rp.client_id or rp.client_id in claims["aud"]
        assert claims["nonce"] == answer["nonce"]
        assert claims["email"] == "lee@acme.example"
    assert first["claims"]["sub"] == second["claims"]["sub"] == third["claims"]["sub"]
    assert first["claims"]["sub"] != "lee"  # Foyer's own subject, not the IdP's
    assert len({first["nonce"], second["nonce"], third["nonce"]}) == 3
    assert third["claims"]["auth_time"] >= first["claims"]["auth_time"]


def test_the_library_refuses_an_answer_it_did_not_ask_for(site, chromium):  # noqa: F811
    """An answer at the application's callback with another state (a forged or swapped
    response) is refused by openid-client: the validation above can fail."""
    base, rp, _idp = site
    page = chromium.new_page(locale="en-US")
    page.goto(f"{rp.origin}/login")  # the application's transaction starts
    assert page.url.startswith(f"{base}/"), page.url
    page.goto(f"{rp.origin}/callback?code=forged&state=forged&iss={base}")
    answer = json.loads(page.locator("body").inner_text())
    assert "state" in answer["error"], answer
