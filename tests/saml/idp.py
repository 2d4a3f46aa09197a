"""A real SAML 2.0 identity provider for the tests: pysaml2's IdP side with its own key
and certificate, served over HTTP on a free loopback port (metadata, SSO with both
bindings, Single Logout), and able to craft the responses an attacker or a broken IdP
would send (re-signed with the IdP's real key, or not signed at all)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import html
import os
import tempfile
import threading
import typing as t
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from saml2 import BINDING_HTTP_POST
from saml2 import BINDING_HTTP_REDIRECT
from saml2 import class_name
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.s_utils import rndstr
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.saml import NameID
from saml2.samlp import STATUS_AUTHN_FAILED
from saml2.samlp import response_from_string
from saml2.server import Server
from saml2.sigver import pre_signature_part
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from app.strategies.saml_keys import new_key_pair

SIG = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
DIGEST = "http://www.w3.org/2001/04/xmlenc#sha256"


@dataclasses.dataclass
class IdpUser:
    """The person the IdP signs in (its attributes as the IdP sends them)."""

    name_id: str = "u-1001"
    attributes: dict[str, list[str]] = dataclasses.field(
        default_factory=lambda: {
            "mail": ["ada@corp.example"],
            "givenName": ["Ada"],
            "sn": ["Lovelace"],
            "displayName": ["Ada Lovelace"],
            "preferredLanguage": ["fr"],
            "memberOf": ["engineering", "admins"],
            "department": ["R&D"],
        }
    )


class SamlIdp:
    """pysaml2's IdP, started with :meth:`start`, stopped with :meth:`stop`."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        key, cert, _ = new_key_pair("test IdP")
        self.key_file = os.path.join(folder, "idp.key")
        self.cert_file = os.path.join(folder, "idp.crt")
        with open(self.key_file, "w") as out:
            out.write(key)
        with open(self.cert_file, "w") as out:
            out.write(cert)
        self.user = IdpUser()
        self.sp_metadata: str | None = None
        self.base = ""
        self.server: Server | None = None
        self.logout_requests: list[t.Any] = []
        self.metadata_hits = 0
        self.metadata_status = 200
        self.refuse = False
        """Answer every AuthnRequest with a signed error status (the user cancelled)."""
        self._http: t.Any = None

    # --- HTTP ---------------------------------------------------------------------------

    def start(self) -> SamlIdp:
        self._http = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.base = f"http://127.0.0.1:{self._http.server_port}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()

    @property
    def entity_id(self) -> str:
        return f"{self.base}/metadata"

    @property
    def metadata_url(self) -> str:
        return f"{self.base}/metadata"

    def config(self) -> IdPConfig:
        settings: dict[str, t.Any] = {
            "entityid": self.entity_id,
            "key_file": self.key_file,
            "cert_file": self.cert_file,
            "encryption_keypairs": [{"key_file": self.key_file, "cert_file": self.cert_file}],
            "accepted_time_diff": 60,
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [
                            (f"{self.base}/sso/redirect", BINDING_HTTP_REDIRECT),
                            (f"{self.base}/sso/post", BINDING_HTTP_POST),
                        ],
                        "single_logout_service": [
                            (f"{self.base}/slo/redirect", BINDING_HTTP_REDIRECT),
                        ],
                    },
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "want_authn_requests_signed": True,
                    "policy": {"default": {"lifetime": {"minutes": 5}}},
                }
            },
            "signing_algorithm": SIG,
            "digest_algorithm": DIGEST,
        }
        if self.sp_metadata:
            settings["metadata"] = {"inline": [self.sp_metadata]}
        config = IdPConfig()
        config.load(settings)
        return config

    @property
    def metadata_xml(self) -> str:
        return str(entity_descriptor(self.config()).to_string().decode())

    def trust(self, sp_metadata: str) -> None:
        """Learn the SP (its metadata as Foyer publishes it)."""
        self.sp_metadata = sp_metadata
        self.server = Server(config=self.config())

    def wsgi(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        request = Request(environ)
        path = request.path
        if path == "/metadata":
            self.metadata_hits += 1
            response = Response(
                self.metadata_xml, status=self.metadata_status, mimetype="application/xml"
            )
        elif path in ("/sso/redirect", "/sso/post"):
            params = request.args if path.endswith("redirect") else request.form
            binding = BINDING_HTTP_REDIRECT if path.endswith("redirect") else BINDING_HTTP_POST
            authn = self.parse_authn_request(dict(params), binding)
            encoded = self.error_response(authn) if self.refuse else self.response_for(authn)
            response = Response(
                auto_post_page(
                    authn.message.assertion_consumer_service_url,
                    {"SAMLResponse": encoded, "RelayState": params.get("RelayState", "")},
                ),
                mimetype="text/html",
            )
        elif path == "/slo/redirect":
            params = dict(request.args)
            if "SAMLRequest" in params:
                url = self.answer_logout(params)
                response = Response(status=303, headers={"Location": url})
            else:
                response = Response("signed out at the IdP", mimetype="text/plain")
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    # --- the IdP's side of the protocol -------------------------------------------------

    def parse_authn_request(self, params: t.Mapping[str, str], binding: str) -> t.Any:
        assert self.server is not None, "trust() the SP first"
        return self.server.parse_authn_request(
            params["SAMLRequest"],
            binding,
            relay_state=params.get("RelayState"),
            sigalg=params.get("SigAlg"),
            signature=params.get("Signature"),
        )

    def response_for(
        self,
        authn: t.Any,
        *,
        sign_response: bool = True,
        sign_assertion: bool = False,
        encrypt: bool = False,
    ) -> str:
        """A real, signed SAMLResponse to an AuthnRequest, for :attr:`user`."""
        assert self.server is not None
        message = authn.message
        response = self.server.create_authn_response(
            identity=self.user.attributes,
            in_response_to=message.id,
            destination=message.assertion_consumer_service_url,
            sp_entity_id=message.issuer.text,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=self.user.name_id),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
            sign_response=sign_response,
            sign_assertion=sign_assertion,
            encrypt_assertion=encrypt,
            encrypt_cert_assertion=self._sp_cert() if encrypt else None,
            sign_alg=SIG,
            digest_alg=DIGEST,
        )
        return base64.b64encode(str(response).encode()).decode()

    def unsolicited(self, acs: str, sp_entity_id: str) -> str:
        """An IdP-initiated response (no InResponseTo)."""
        assert self.server is not None
        response = self.server.create_authn_response(
            identity=self.user.attributes,
            in_response_to=None,
            destination=acs,
            sp_entity_id=sp_entity_id,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=self.user.name_id),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
            sign_response=True,
            sign_alg=SIG,
            digest_alg=DIGEST,
        )
        return base64.b64encode(str(response).encode()).decode()

    def error_response(self, authn: t.Any) -> str:
        """The IdP refuses: status AuthnFailed, signed."""
        assert self.server is not None
        message = authn.message
        response = self.server.create_error_response(
            message.id,
            message.assertion_consumer_service_url,
            (STATUS_AUTHN_FAILED, "user cancelled"),
            sign=True,
            sign_alg=SIG,
            digest_alg=DIGEST,
        )
        return base64.b64encode(str(response).encode()).decode()

    def crafted(
        self,
        authn: t.Any,
        change: t.Callable[[t.Any], None],
        *,
        sign_response: bool = True,
        sign_assertion: bool = False,
        key_file: str | None = None,
    ) -> str:
        """An unsigned response changed by ``change`` (a pysaml2 ``Response``), then signed
        with the IdP's key (or ``key_file``'s), as a broken or hostile IdP would."""
        plain = base64.b64decode(self.response_for(authn, sign_response=False)).decode()
        response = response_from_string(plain)
        change(response)
        return self.sign(response, sign_response, sign_assertion, key_file)

    def sign(
        self,
        response: t.Any,
        sign_response: bool = True,
        sign_assertion: bool = False,
        key_file: str | None = None,
    ) -> str:
        assert self.server is not None
        security = self.server.sec
        assertion = response.assertion[0] if response.assertion else None
        if sign_assertion and assertion is not None:
            assertion.signature = pre_signature_part(
                assertion.id, security.my_cert, 1, sign_alg=SIG, digest_alg=DIGEST
            )
        if sign_response:
            response.signature = pre_signature_part(
                response.id, security.my_cert, 2, sign_alg=SIG, digest_alg=DIGEST
            )
        xml = str(response)
        if sign_assertion and assertion is not None:
            xml = security.sign_statement(
                xml, class_name(assertion), key_file=key_file or self.key_file, node_id=assertion.id
            )
        if sign_response:
            xml = security.sign_statement(
                xml, class_name(response), key_file=key_file or self.key_file, node_id=response.id
            )
        return base64.b64encode(xml.encode()).decode()

    def logout_request(
        self, slo_url: str, name_id_xml: str, session_index: str | None
    ) -> dict[str, str]:
        """An IdP-initiated LogoutRequest (HTTP-Redirect, signed query)."""
        assert self.server is not None
        from saml2.saml import name_id_from_string

        _id, request = self.server.create_logout_request(
            slo_url,
            self.sp_entity_id(),
            name_id=name_id_from_string(name_id_xml),
            session_indexes=[session_index] if session_index else None,
            sign=False,
        )
        info = self.server.apply_binding(
            BINDING_HTTP_REDIRECT, str(request), slo_url, relay_state="", sign=True, sigalg=SIG
        )
        location = dict(info["headers"])["Location"]
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

    def answer_logout(self, params: dict[str, str]) -> str:
        """Take the SP's LogoutRequest (signature checked) and answer with a signed
        LogoutResponse to the SP's SLO URL."""
        assert self.server is not None
        request = self.server.parse_logout_request(
            params["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=params.get("RelayState"),
            sigalg=params.get("SigAlg"),
            signature=params.get("Signature"),
        )
        self.logout_requests.append(request.message)
        response = self.server.create_logout_response(
            request.message, [BINDING_HTTP_REDIRECT], sign=False
        )
        destination = request.message.issuer.text
        locations = self.server.metadata.single_logout_service(
            destination, BINDING_HTTP_REDIRECT, "spsso"
        )
        info = self.server.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(response),
            locations[0]["location"],
            relay_state=params.get("RelayState", ""),
            response=True,
            sign=True,
            sigalg=SIG,
        )
        return str(dict(info["headers"])["Location"])

    def sp_entity_id(self) -> str:
        assert self.server is not None
        return next(iter(self.server.metadata.service_providers()))

    def _sp_cert(self) -> str:
        assert self.server is not None
        certs = self.server.metadata.certs(self.sp_entity_id(), "spsso", "encryption")
        return str(certs[0][1])


def auto_post_page(url: str, fields: dict[str, str]) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )
    return (
        "<!doctype html><title>IdP</title><body onload='document.forms[0].submit()'>"
        f'<form method="post" action="{html.escape(url)}">{inputs}'
        '<button type="submit">Continue</button></form>'
    )


def new_folder() -> str:
    return tempfile.mkdtemp(prefix="foyer-test-idp-")


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def later(seconds: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = [
    "SamlIdp",
    "IdpUser",
    "auto_post_page",
    "new_folder",
    "query_of",
    "later",
    "rndstr",
    "urlencode",
]
