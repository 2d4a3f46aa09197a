"""Text wraps where it may, in a real Chromium on a narrow screen: an email address in the
identity pill only after its @ or a dot, never inside a word; the authenticator key only
between its groups; each recovery code on one line."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app.connections.services import create_connection
from app.db import session
from app.tenancy.services import create_tenant

CHROMIUM = os.environ.get("FOYER_CHROMIUM", "/usr/bin/chromium")
LONG_EMAIL = "jean-christophe.montgomery@acme-holdings.example.co.uk"

SEGMENTS_ON_ONE_LINE = """
(element) => {
  const text = element.firstChild.textContent !== undefined ? element.textContent : '';
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const broken = [];
  let lines = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = Array.from(range.getClientRects()).filter(r => r.width > 0);
    if (rects.length > 1) broken.push(node.textContent);
    rects.forEach(r => lines.add(Math.round(r.top)));
  }
  return {broken, lines: lines.size};
}
"""


@pytest.fixture
def page():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 400, "height": 800})
        page.set_default_timeout(10_000)
        yield page
        browser.close()


@pytest.fixture
def foyer_config(foyer_config):
    return {**foyer_config, "secure_cookies": False}


def test_an_email_address_wraps_only_between_its_parts(foyer_app, page):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tenant = create_tenant("wrap", "Wrap", [f"http://localhost:{port}"])
    create_connection(tenant, "users", "database", "Users")
    session.commit()
    server = make_server("127.0.0.1", port, foyer_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://localhost:{port}/login")
        page.fill("input[name=identifier]", LONG_EMAIL)
        page.keyboard.press("Enter")
        page.wait_for_selector("#identity-value")
        found = page.locator("#identity-value").evaluate(SEGMENTS_ON_ONE_LINE)
    finally:
        server.shutdown()
        server.server_close()
    assert found["lines"] > 1  # it does wrap on a narrow screen...
    assert found["broken"] == []  # ...but never inside one of its parts


def test_the_key_and_the_codes_keep_their_groups(foyer_app, page, tmp_path):
    css = (Path(__file__).resolve().parents[2] / "themes/default/static/css/foyer.css").read_text()
    html = f"""<!doctype html><html><head><style>{css}</style></head><body>
    <main class="card"><code id="key" class="secret">
    2CWX OHAD ALQX TZ2L 75B5 2MPR 6QEF LYLM</code>
    <ul class="codes" id="codes"><li><code>k7p2q-9xw4m</code></li><li><code>a8d3f-2hj6k</code></li>
    <li><code>m4n7b-8cv2x</code></li><li><code>z9q1w-5er7t</code></li></ul></main></body></html>"""
    page.set_viewport_size({"width": 260, "height": 800})
    page.set_content(html)
    groups = page.locator("#key").evaluate(
        """(el) => {
          const words = el.textContent.trim().split(/\\s+/);
          const text = el.firstChild;
          const range = document.createRange();
          let offset = text.textContent.indexOf(words[0]);
          const broken = [];
          for (const word of words) {
            offset = text.textContent.indexOf(word, offset);
            range.setStart(text, offset); range.setEnd(text, offset + word.length);
            if (Array.from(range.getClientRects()).filter(r => r.width > 0).length > 1)
              broken.push(word);
            offset += word.length;
          }
          return broken;
        }"""
    )
    assert groups == []
    heights = page.locator("#codes code").evaluate_all(
        "(codes) => codes.map(c => c.getClientRects().length)"
    )
    assert heights and all(h == 1 for h in heights)
