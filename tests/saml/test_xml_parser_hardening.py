"""F-09: the XML of a SAMLResponse posted to the ACS and of the IdP's metadata (fetched or
inline) is read with DTDs and entities refused: no external entity is fetched or read
(XXE), no entity expansion blows up (billion laughs). Bodies over the size cap are refused
before they are parsed."""

from __future__ import annotations

import base64
import http.server
import threading
import time
import typing as t

import pytest
import sqlalchemy as sa

from app.accounts.models import Identity
from app.db import session
from tests.saml.conftest import post_response
from tests.saml.conftest import start_sign_in

LAUGHS = (
    '<!DOCTYPE r [<!ENTITY a "lollollollollollollollollollol">'
    + "".join(f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(9))
    + "]>"
)
"""Ten entities each ten times the one before: 10^9 copies once expanded."""


def with_doctype(xml: str, doctype: str, entity: str) -> str:
    """``xml`` (no XML declaration) with ``doctype`` before it and ``&entity;`` in place of
    the user's NameID text."""
    if xml.startswith("<?xml"):
        xml = xml.split("?>", 1)[1]
    return doctype + xml.replace(">ada-", f">&{entity};ada-", 1)


def refused_with_nothing_created(answer: t.Any) -> None:
    assert answer.status_code in (400, 403, 413, 502), answer.status_code
    assert "code=" not in answer.headers.get("Location", "")
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 0


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-CONTENT")
    return path


def signed_xml(client, app_client, idp):
    started = start_sign_in(client, app_client[0], idp)
    xml = base64.b64decode(idp.response_for(started.authn)).decode()
    assert f">{idp.user.name_id}<" in xml
    return started, xml.replace(f">{idp.user.name_id}<", f">ada-{idp.user.name_id}<", 1)


def test_an_external_entity_in_the_response_is_not_read(
    client, corp, app_client, idp, secret_file, recorded_events
):
    started, xml = signed_xml(client, app_client, idp)
    doctype = f'<!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret_file}">]>'
    hostile = with_doctype(xml, doctype, "x")
    encoded = base64.b64encode(hostile.encode()).decode()
    answer = post_response(client, encoded, started.relay_state)
    refused_with_nothing_created(answer)
    assert "TOP-SECRET" not in answer.get_data(as_text=True)
    [failed] = recorded_events("upstream_failed")
    assert "TOP-SECRET" not in str(failed.data)
    assert "Entit" in failed.data["detail"] or "DTD" in failed.data["detail"], failed.data


def test_billion_laughs_in_the_response_is_refused_at_once(client, corp, app_client, idp):
    started, xml = signed_xml(client, app_client, idp)
    hostile = with_doctype(xml, LAUGHS, "j")
    began = time.monotonic()
    answer = post_response(client, base64.b64encode(hostile.encode()).decode(), started.relay_state)
    refused_with_nothing_created(answer)
    assert time.monotonic() - began < 5


def test_an_internal_dtd_in_the_response_is_refused(client, corp, app_client, idp):
    started, xml = signed_xml(client, app_client, idp)
    hostile = with_doctype(xml, '<!DOCTYPE r [<!ENTITY x "">]>', "x")
    answer = post_response(client, base64.b64encode(hostile.encode()).decode(), started.relay_state)
    refused_with_nothing_created(answer)


def test_a_response_over_the_size_cap_is_refused_before_parsing(client, corp, app_client, idp):
    started = start_sign_in(client, app_client[0], idp)
    answer = client.post(
        "/saml/corp-saml/acs",
        data={"SAMLResponse": "A" * (2 * 1024 * 1024), "RelayState": started.relay_state},
    )
    assert answer.status_code == 413
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 0


class Metadata(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/samlmetadata+xml")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: t.Any) -> None:
        pass


def hostile_metadata(idp, doctype: str, entity: str) -> str:
    xml = idp.metadata_xml
    if xml.startswith("<?xml"):
        xml = xml.split("?>", 1)[1]
    assert "entityID=" in xml
    return doctype + xml.replace("entityID=", f'xml:lang="&{entity};" entityID=', 1)


def authorize(client, app_client, name: str):
    response = client.get(
        "/authorize",
        query_string={
            "response_type": "code",
            "client_id": app_client[0].client_id,
            "redirect_uri": "https://app.test/callback",
            "scope": "openid",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
            "connection": name,
        },
    )
    while response.status_code in (302, 303) and response.headers["Location"].startswith(
        ("/", "https://login.test/")
    ):
        response = client.get(response.headers["Location"])
    return response


@pytest.mark.parametrize("kind", ["xxe", "laughs"])
def test_hostile_idp_metadata_by_url_is_refused(
    client, make_connection, make_organization, app_client, idp, secret_file, kind
):
    doctype = (
        f'<!DOCTYPE md:EntityDescriptor [<!ENTITY x SYSTEM "file://{secret_file}">]>'
        if kind == "xxe"
        else LAUGHS.replace("DOCTYPE r", "DOCTYPE md:EntityDescriptor")
    )
    handler = type(
        "Hostile",
        (Metadata,),
        {"body": hostile_metadata(idp, doctype, "x" if kind == "xxe" else "j").encode()},
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metadata"
        connection = make_connection("hostile-saml", "saml", options={"idp_metadata_url": url})
        make_organization("hostile", connections=[connection])
        began = time.monotonic()
        response = authorize(client, app_client, "hostile-saml")
        assert time.monotonic() - began < 5
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code in (502, 503), response.headers.get("Location")
    assert not response.headers.get("Location", "").startswith(idp.base)
    assert "TOP-SECRET" not in response.get_data(as_text=True)


def test_hostile_inline_idp_metadata_is_refused(
    client, make_connection, make_organization, app_client, idp, secret_file
):
    doctype = f'<!DOCTYPE md:EntityDescriptor [<!ENTITY x SYSTEM "file://{secret_file}">]>'
    connection = make_connection(
        "inline-hostile", "saml", options={"idp_metadata_xml": hostile_metadata(idp, doctype, "x")}
    )
    make_organization("inline-hostile", connections=[connection])
    response = authorize(client, app_client, "inline-hostile")
    assert response.status_code in (502, 503), response.headers.get("Location")
    assert not response.headers.get("Location", "").startswith(idp.base)
