"""The demo end to end without a browser: sign in and out of the demo application.

One test runs Foyer and the demo application in threads; the other starts ``foyer demo``
itself (two gunicorn processes) and stops it with Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from app.demo.rp import create_rp_app
from app.demo.seed import DEMO_PASSWORD
from app.demo.seed import seed

from .browser import Browser
from .conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def claims_on(page) -> dict:
    assert 'id="claims"' in page.text, page.text[:2000]
    start = page.text.index('<code id="claims">') + len('<code id="claims">')
    text = page.text[start : page.text.index("</code>", start)]
    return json.loads(text.replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&"))


def test_sign_in_shows_claims_and_sign_out_ends_the_session(foyer_app, serve):
    port, rp_port = free_port(), free_port()
    demo = seed(foyer_app, port, rp_port)
    serve(foyer_app, port)
    serve(
        create_rp_app(
            demo.foyer_url, demo.client_id, demo.client_secret, organizations=demo.organizations
        ),
        rp_port,
    )
    browser = Browser()

    page = browser.sign_in(demo.rp_url, "alice@acme.example", DEMO_PASSWORD)

    assert page.url == f"{demo.rp_url}/"
    claims = claims_on(page)
    assert claims["iss"] == demo.foyer_url
    assert claims["aud"] == demo.client_id
    assert claims["email"] == "alice@acme.example"
    assert claims["name"] == "Alice Anderson"
    assert 'id="userinfo"' in page.text

    signed_out = browser.sign_out(page)
    assert signed_out.url == f"{demo.rp_url}/?signed_out=1"
    assert 'id="signed-out"' in signed_out.text
    # Foyer's session ended too: signing in again asks for the identifier
    again = browser.http.get(demo.rp_url, timeout=10)
    login = browser.submit(again, {})
    assert "/login" in login.url and 'name="identifier"' in login.text


def test_a_wrong_password_keeps_the_user_on_foyer(foyer_app, serve):
    port, rp_port = free_port(), free_port()
    demo = seed(foyer_app, port, rp_port)
    serve(foyer_app, port)
    serve(create_rp_app(demo.foyer_url, demo.client_id, demo.client_secret), rp_port)
    page = Browser().sign_in(demo.rp_url, "alice@acme.example", "not the demo password")
    assert page.url.startswith(demo.foyer_url)
    assert 'id="claims"' not in page.text


def _wait_for_banner(lines: list[str], process: subprocess.Popen, deadline: float) -> None:
    """Wait until ``foyer demo`` says both servers answer (its banner's last line), as a
    user reading the terminal does: signing in as soon as the ports answer raced the
    demo's own check, and a Ctrl-C sent before it printed the banner."""
    while time.monotonic() < deadline:
        if any("Press Ctrl-C to stop both." in line for line in lines):
            return
        assert process.poll() is None, "".join(lines)
        time.sleep(0.2)
    pytest.fail("foyer demo printed no banner:\n" + "".join(lines))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")
def test_foyer_demo_serves_both_and_ctrl_c_stops_them(tmp_path):
    port, rp_port = free_port(), free_port()
    env = {**os.environ, "FOYER_PLUGINS_DIR": str(tmp_path / "plugins")}
    env.pop("FOYER_DATABASE_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "demo",
            "--port",
            str(port),
            "--rp-port",
            str(rp_port),
            "--instance",
            str(tmp_path / "i"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # as when the suite runs as a background job: SIGINT inherited as ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(line.decode() for line in process.stdout), daemon=True
    )
    reader.start()
    try:
        _wait_for_banner(lines, process, time.monotonic() + 60)
        page = Browser().sign_in(
            f"http://localhost:{rp_port}", "peter@initech.example", DEMO_PASSWORD
        )
        assert claims_on(page)["email"] == "peter@initech.example"
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        process.wait(timeout=30)
        reader.join(timeout=10)
    output = "".join(lines)
    assert process.returncode == 0, output
    assert "Demo accounts (password for every one" in output
    foyer_line = next(line for line in output.splitlines() if line.startswith("  Foyer "))
    app_line = next(line for line in output.splitlines() if "  Demo application " in line)
    assert foyer_line.index("http://") == app_line.index("http://")
    assert foyer_line.index("<-") == app_line.index("<-")
    assert "stopping the demo" in output
    for url in (f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{rp_port}/"):
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback


def test_a_shared_pool_member_signs_in_through_an_organization_button(foyer_app, serve):
    """Globex offers its own connection and the shared pool: HRD finds the consultant."""
    port, rp_port = free_port(), free_port()
    demo = seed(foyer_app, port, rp_port)
    serve(foyer_app, port)
    serve(
        create_rp_app(
            demo.foyer_url, demo.client_id, demo.client_secret, organizations=demo.organizations
        ),
        rp_port,
    )

    page = Browser().sign_in(
        demo.rp_url, "carla@consultants.example", DEMO_PASSWORD, organization="globex"
    )

    assert page.url == f"{demo.rp_url}/"
    assert claims_on(page)["email"] == "carla@consultants.example"
