"""A SAML connection ``corp-saml`` of the organization ``corp``, whose IdP is a real pysaml2
IdP on a loopback port (:mod:`tests.saml.idp`), and helpers that drive a sign-in through it
with the Flask test client."""

from __future__ import annotations

import dataclasses
import shutil
import typing as t
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
from saml2 import BINDING_HTTP_POST
from saml2 import BINDING_HTTP_REDIRECT

from app.db import session
from app.testing import CLIENT_REDIRECT_URI
from app.testing import pkce_pair
from tests.saml.idp import SamlIdp
from tests.saml.idp import new_folder

if t.TYPE_CHECKING:
    from flask.testing import FlaskClient

    from app.clients.models import Client
    from app.connections.models import Connection
    from app.orgs.models import Organization

ACS = "https://login.test/saml/corp-saml/acs"
SLO = "https://login.test/saml/corp-saml/slo"
ENTITY_ID = "urn:foyer:acme:corp-saml"


@pytest.fixture
def idp() -> t.Iterator[SamlIdp]:
    folder = new_folder()
    server = SamlIdp(folder).start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def saml_options(idp: SamlIdp) -> dict[str, t.Any]:
    """The connection's options; override to change them. The test IdP answers from a
    thread of the test's own process, which a loaded machine (the full suite beside a
    browser) once kept past the default 5 s: the tests give its metadata 20 s."""
    return {"idp_metadata_url": idp.metadata_url, "email_verified": True, "metadata_timeout": 20}


@pytest.fixture
def saml_connection(
    make_connection: t.Callable[..., Connection],
    saml_options: dict[str, t.Any],
    idp: SamlIdp,
    client: FlaskClient,
) -> Connection:
    connection = make_connection("corp-saml", "saml", options=saml_options)
    idp.trust(client.get("/saml/corp-saml/metadata").get_data(as_text=True))
    return connection


@pytest.fixture
def corp(
    make_organization: t.Callable[..., Organization], saml_connection: Connection
) -> Organization:
    """The organization whose only connection is ``corp-saml`` (isolated users)."""
    organization = make_organization("corp", connections=[saml_connection])
    session.commit()
    return organization


@pytest.fixture
def app_client(make_client: t.Callable[..., tuple[Client, str | None]]) -> tuple[Client, str]:
    client, secret = make_client("Corp app")
    assert secret is not None
    return client, secret


@dataclasses.dataclass
class Started:
    """An SP-initiated sign-in sent to the IdP."""

    response: t.Any
    authn: t.Any
    """The AuthnRequest as the IdP parsed it (its signature checked)."""
    relay_state: str
    params: dict[str, str]
    verifier: str


def location(response: t.Any) -> str:
    return str(response.headers.get("Location", ""))


def start_sign_in(browser: FlaskClient, app: Client, idp: SamlIdp, **params: str) -> Started:
    """``/authorize`` with ``connection=corp-saml`` (and ``params``), then the AuthnRequest
    the browser carries to the IdP, parsed by the IdP."""
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": CLIENT_REDIRECT_URI,
        "scope": "openid profile email",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "connection": "corp-saml",
    }
    query.update(params)
    response = browser.get("/authorize", query_string=query)
    while response.status_code in (302, 303) and location(response).startswith(
        ("https://login.test/", "/")
    ):
        response = browser.get(location(response))
    assert response.status_code in (200, 302, 303), response.get_data(as_text=True)[:500]
    if response.status_code == 200:  # POST binding: Foyer's page posts the request
        fields = dict(read_fields(response.get_data(as_text=True)))
        authn = idp.parse_authn_request(fields, BINDING_HTTP_POST)
        return Started(response, authn, fields["RelayState"], fields, verifier)
    url = location(response)
    assert url.startswith(idp.base), url
    fields = dict(parse_qsl(urlsplit(url).query))
    authn = idp.parse_authn_request(fields, BINDING_HTTP_REDIRECT)
    return Started(response, authn, fields["RelayState"], fields, verifier)


def read_fields(page: str) -> list[tuple[str, str]]:
    """The hidden fields of the auto-posting page."""
    from html.parser import HTMLParser

    found: list[tuple[str, str]] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = dict(attrs)
            if tag == "input" and values.get("type") == "hidden":
                found.append((values.get("name") or "", values.get("value") or ""))

    Parser().feed(page)
    return found


def post_response(browser: FlaskClient, encoded: str, relay_state: str, acs: str = ACS) -> t.Any:
    """POST the SAMLResponse to the ACS as the IdP's page does (the test client always
    carries the cookie, so this is the post from Foyer's own page), then follow Foyer's
    redirects on its own host."""
    response = browser.post(acs, data={"SAMLResponse": encoded, "RelayState": relay_state})
    if response.status_code == 200 and 'id="autopost-form"' in response.get_data(as_text=True):
        # no cookie came with the post (as from the IdP's site): Foyer's page posts again
        response = browser.post(acs, data=dict(read_fields(response.get_data(as_text=True))))
    while response.status_code in (302, 303) and location(response).startswith(
        ("https://login.test/", "/")
    ):
        response = browser.get(location(response))
    return response


def code_of(response: t.Any) -> dict[str, str]:
    url = location(response)
    assert url.startswith(CLIENT_REDIRECT_URI), (response.status_code, url)
    return dict(parse_qsl(urlsplit(url).query))


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))
