"""F-06: the signature-wrapping (XSW) corpus. Each variant keeps a genuine signature of the
IdP that still verifies over the element its Reference URI names, and moves, copies or
hides that element so that a naive reader would take an attacker's assertion (subject
``victim``) instead. Every one must be refused with nothing created. Keys carried in the
message are ignored: only the certificate of the IdP's metadata verifies."""

from __future__ import annotations

import base64
import os
import typing as t
from xml.dom import minidom

import pytest
import sqlalchemy as sa
from saml2.sigver import class_name
from saml2.sigver import pre_signature_part

from app.accounts.models import Identity
from app.db import session
from app.strategies.saml_keys import new_key_pair
from tests.saml.conftest import code_of
from tests.saml.conftest import post_response
from tests.saml.conftest import start_sign_in

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"


def parse(encoded: str) -> t.Any:
    return minidom.parseString(base64.b64decode(encoded)).documentElement


def encode(root: t.Any) -> str:
    return base64.b64encode(root.toxml().encode()).decode()


def child(element: t.Any, namespace: str, name: str) -> t.Any:
    for node in element.childNodes:
        if node.nodeType == node.ELEMENT_NODE and (node.namespaceURI, node.localName) == (
            namespace,
            name,
        ):
            return node
    return None


def assertion_of(root: t.Any) -> t.Any:
    return child(root, SAML, "Assertion")


def signature_of(element: t.Any) -> t.Any:
    return child(element, DS, "Signature")


def clone(element: t.Any) -> t.Any:
    return element.cloneNode(True)


def insert_at(parent: t.Any, position: int, node: t.Any) -> None:
    """``node`` as the ``position``-th element child of ``parent`` (after the Issuer: 1)."""
    elements = [n for n in parent.childNodes if n.nodeType == n.ELEMENT_NODE]
    if position < len(elements):
        parent.insertBefore(node, elements[position])
    else:
        parent.appendChild(node)


def replace(parent: t.Any, old: t.Any, new: t.Any) -> None:
    parent.replaceChild(new, old)


def evil_copy(element: t.Any, new_id: str | None = "_evil") -> t.Any:
    """The element, unsigned, its subject changed to the victim."""
    evil = clone(element)
    for signature in evil.getElementsByTagNameNS(DS, "Signature"):
        signature.parentNode.removeChild(signature)
    for name_id in evil.getElementsByTagNameNS(SAML, "NameID"):
        for text in list(name_id.childNodes):
            name_id.removeChild(text)
        name_id.appendChild(element.ownerDocument.createTextNode("victim"))
    if new_id is not None:
        evil.setAttribute("ID", new_id)
    return evil


def without_signature(element: t.Any) -> t.Any:
    bare = clone(element)
    signature = signature_of(bare)
    if signature is not None:
        bare.removeChild(signature)
    return bare


# --- Signed Response (XSW1, XSW2) ---------------------------------------------------------


def xsw1(root: t.Any) -> t.Any:
    """A new Response with the attacker's assertion; the original signed Response (without
    its signature) inside the copied Signature element."""
    evil = evil_copy(root)
    signature = clone(signature_of(root))
    signature.appendChild(without_signature(root))
    insert_at(evil, 1, signature)
    return evil


def xsw2(root: t.Any) -> t.Any:
    """As XSW1, the original Response beside the signature (detached) instead of inside."""
    evil = evil_copy(root)
    insert_at(evil, 1, clone(signature_of(root)))
    insert_at(evil, 1, without_signature(root))
    return evil


def response_same_id(root: t.Any) -> t.Any:
    """The attacker's Response takes the signed one's ID; the original sits inside it."""
    evil = evil_copy(root, new_id=root.getAttribute("ID"))
    insert_at(evil, 1, clone(signature_of(root)))
    evil.appendChild(without_signature(root))
    return evil


# --- Signed Assertion (XSW3 to XSW8 and more) ---------------------------------------------


def xsw3(root: t.Any) -> t.Any:
    """The attacker's assertion (new ID) before the signed one."""
    signed = assertion_of(root)
    root.insertBefore(evil_copy(signed), signed)
    return root


def xsw4(root: t.Any) -> t.Any:
    """The attacker's assertion wraps the signed one."""
    signed = assertion_of(root)
    evil = evil_copy(signed)
    replace(root, signed, evil)
    evil.appendChild(signed)
    return root


def xsw5(root: t.Any) -> t.Any:
    """The attacker's assertion keeps the copied signature and the original ID; an unsigned
    copy of the original goes to the end of the Response."""
    signed = assertion_of(root)
    evil = evil_copy(signed, new_id=None)
    insert_at(evil, 1, clone(signature_of(signed)))
    replace(root, signed, evil)
    root.appendChild(without_signature(signed))
    return root


def xsw6(root: t.Any) -> t.Any:
    """The attacker's assertion keeps the ID and the signature; the original assertion
    (unsigned) hides inside that Signature element."""
    signed = assertion_of(root)
    evil = evil_copy(signed, new_id=None)
    signature = clone(signature_of(signed))
    signature.appendChild(without_signature(signed))
    insert_at(evil, 1, signature)
    replace(root, signed, evil)
    return root


def xsw7(root: t.Any) -> t.Any:
    """The signed assertion hides in an Extensions element; the attacker's one is bare."""
    signed = assertion_of(root)
    extensions = root.ownerDocument.createElementNS(SAMLP, "samlp:Extensions")
    replace(root, signed, evil_copy(signed))
    extensions.appendChild(signed)
    insert_at(root, 1, extensions)
    return root


def xsw8(root: t.Any) -> t.Any:
    """The attacker's assertion carries the signature, with the original assertion
    (unsigned) in an ds:Object inside it."""
    signed = assertion_of(root)
    evil = evil_copy(signed, new_id=None)
    signature = clone(signature_of(signed))
    holder = root.ownerDocument.createElementNS(DS, "ds:Object")
    holder.appendChild(without_signature(signed))
    signature.appendChild(holder)
    insert_at(evil, 1, signature)
    replace(root, signed, evil)
    return root


def duplicate_id_after(root: t.Any) -> t.Any:
    """Two assertions with the same ID: the signed one first, the attacker's after it."""
    signed = assertion_of(root)
    root.appendChild(evil_copy(signed, new_id=signed.getAttribute("ID")))
    return root


def duplicate_id_before(root: t.Any) -> t.Any:
    """Two assertions with the same ID: the attacker's first."""
    signed = assertion_of(root)
    root.insertBefore(evil_copy(signed, new_id=signed.getAttribute("ID")), signed)
    return root


def advice(root: t.Any) -> t.Any:
    """The signed assertion tucked into the Advice of the attacker's."""
    signed = assertion_of(root)
    evil = evil_copy(signed, new_id=None)
    replace(root, signed, evil)
    holder = root.ownerDocument.createElementNS(SAML, "saml:Advice")
    holder.appendChild(signed)
    evil.appendChild(holder)
    return root


RESPONSE_VARIANTS = [xsw1, xsw2, response_same_id]
ASSERTION_VARIANTS = [
    xsw3,
    xsw4,
    xsw5,
    xsw6,
    xsw7,
    xsw8,
    duplicate_id_after,
    duplicate_id_before,
    advice,
]


def refused_with_nothing_created(answer: t.Any) -> None:
    assert answer.status_code in (400, 403, 502), answer.status_code
    assert "code=" not in answer.headers.get("Location", "")
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 0


def test_the_untouched_message_passes_through_the_same_round_trip(client, corp, app_client, idp):
    """The corpus' parse-and-serialise round trip alone breaks nothing (the tests below
    fail for the wrapping, not for the tooling)."""
    started = start_sign_in(client, app_client[0], idp)
    root = parse(idp.response_for(started.authn, sign_response=False, sign_assertion=True))
    assert code_of(post_response(client, encode(root), started.relay_state))["code"]


@pytest.mark.parametrize("variant", RESPONSE_VARIANTS, ids=lambda v: v.__name__)
def test_wrapped_signed_responses_are_refused(client, corp, app_client, idp, variant):
    started = start_sign_in(client, app_client[0], idp)
    root = parse(idp.response_for(started.authn, sign_response=True, sign_assertion=False))
    answer = post_response(client, encode(variant(root)), started.relay_state)
    refused_with_nothing_created(answer)


@pytest.mark.parametrize("variant", ASSERTION_VARIANTS, ids=lambda v: v.__name__)
def test_wrapped_signed_assertions_are_refused(client, corp, app_client, idp, variant):
    started = start_sign_in(client, app_client[0], idp)
    root = parse(idp.response_for(started.authn, sign_response=False, sign_assertion=True))
    answer = post_response(client, encode(variant(root)), started.relay_state)
    refused_with_nothing_created(answer)


@pytest.mark.parametrize("part", ["response", "assertion"])
def test_a_key_carried_in_the_message_is_ignored(client, corp, app_client, idp, tmp_path, part):
    """Signed by the attacker's key, with the attacker's certificate in KeyInfo: only the
    certificate of the IdP's metadata counts."""
    key, cert, _ = new_key_pair("attacker")
    key_file = os.path.join(tmp_path, "attacker.key")
    with open(key_file, "w") as out:
        out.write(key)
    body = "".join(line for line in cert.splitlines() if "-----" not in line)
    started = start_sign_in(client, app_client[0], idp)
    from saml2.samlp import response_from_string

    response = response_from_string(
        base64.b64decode(idp.response_for(started.authn, sign_response=False)).decode()
    )
    security = idp.server.sec
    target = response if part == "response" else response.assertion[0]
    target.signature = pre_signature_part(target.id, body, 1)
    xml = security.sign_statement(
        str(response), class_name(target), key_file=key_file, node_id=target.id
    )
    answer = post_response(client, base64.b64encode(xml.encode()).decode(), started.relay_state)
    refused_with_nothing_created(answer)
