"""The demo reaches sign-up and consent: an organization with open sign-up, a third-party
application that asks for consent, and the demo application showing Foyer's explanation
of an error."""

from __future__ import annotations

import re
import time

from app.demo.rp import create_rp_app
from app.demo.seed import DEMO_PASSWORD
from app.demo.seed import seed
from tests.demo.browser import Browser
from tests.demo.conftest import free_port
from tests.demo.test_demo_sign_in import claims_on

PASSWORD = "a long unusual pass 42"


def serve_demo(foyer_app, serve):
    port, rp_port = free_port(), free_port()
    demo = seed(foyer_app, port, rp_port)
    serve(foyer_app, port)
    serve(
        create_rp_app(
            demo.foyer_url,
            demo.client_id,
            demo.client_secret,
            organizations=demo.organizations,
            partner=(demo.partner_client_id, demo.partner_client_secret),
        ),
        rp_port,
    )
    return demo


def test_the_third_party_application_asks_for_consent(foyer_app, serve):
    demo = serve_demo(foyer_app, serve)
    browser = Browser()
    home = browser.http.get(demo.rp_url, timeout=10)
    assert 'id="sign-in-partner"' in home.text
    page = browser.submit(home, {"as": "partner"})
    page = browser.submit(page, {"identifier": "alice@acme.example"})
    consent = browser.submit(page, {"password": DEMO_PASSWORD})
    assert 'id="consent-form"' in consent.text and "Partner Analytics" in consent.text
    signed_in = browser.submit(consent, {"decision": "allow"}, form_id="consent-form")
    assert claims_on(signed_in)["aud"] == demo.partner_client_id
    assert 'id="as-partner"' in signed_in.text


def test_denying_consent_shows_foyers_explanation(foyer_app, serve):
    demo = serve_demo(foyer_app, serve)
    browser = Browser()
    page = browser.submit(browser.http.get(demo.rp_url, timeout=10), {"as": "partner"})
    page = browser.submit(page, {"identifier": "bob@acme.example"})
    consent = browser.submit(page, {"password": DEMO_PASSWORD})
    denied = browser.submit(consent, {"decision": "deny"}, form_id="consent-form")
    assert 'id="error"' in denied.text and "access_denied" in denied.text
    description = re.search(r'<p id="error-description">(.*?)</p>', denied.text, re.S)
    assert description and description.group(1).strip(), denied.text


def test_an_organization_of_the_demo_has_open_sign_up(foyer_app, serve, outbox):
    demo = serve_demo(foyer_app, serve)
    assert ("hooli", "Hooli Community") in demo.organizations
    browser = Browser()
    home = browser.http.get(demo.rp_url, timeout=10)
    login = browser.submit(home, {"organization": "hooli"})
    link = re.search(r'id="signup-link" href="([^"]+)"', login.text)
    assert link, login.text
    form = browser.http.get(demo.foyer_url + link.group(1).replace("&amp;", "&"), timeout=10)
    sent = browser.submit(
        form,
        {"email": "newcomer@example.org", "name": "New Comer", "password": PASSWORD},
        form_id="signup-form",
    )
    deadline = time.monotonic() + 10
    while not outbox and time.monotonic() < deadline:
        time.sleep(0.05)
    code = re.search(r"\b(\d{4}[ -]?\d{4})\b", outbox[0].text), outbox[0].text
    code = code[0].group(1)
    back = browser.submit(sent, {"code": code})  # the code ends the sign-up and signs in
    assert claims_on(back)["email"] == "newcomer@example.org"
