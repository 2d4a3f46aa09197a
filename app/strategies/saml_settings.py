"""A SAML connection's options, read once, and the SAML library's configuration built from
them (the service provider Foyer plays for the customer's IdP).

Options (``connections[].options`` in the config file; every one optional except the IdP
metadata):

``idp_metadata_url`` / ``idp_metadata_xml``
    The IdP's metadata, fetched (``metadata_refresh`` seconds, ``metadata_timeout``) or inline.
``idp_entity_id``
    Which IdP of the metadata (needed only when it describes several).
``binding``
    ``redirect`` (default) or ``post``: how the AuthnRequest goes to the IdP.
``sign_requests``
    Sign AuthnRequests and LogoutRequests (default true).
``require_signed_assertions``
    Refuse a response whose assertion itself is unsigned, even when the response is
    signed (default false: a signed response or a signed assertion is required).
``email_verified``
    The IdP asserts only addresses it verified (default false).
``attributes``
    Mapping of ``email``, ``name``, ``given_name``, ``family_name``, ``locale``, ``groups``
    and ``subject`` to the attribute name (or list of names) that carries each.
``app_metadata``
    ``{key: attribute name}``: attributes copied into the user's ``app_metadata``.
``name_id_format``
    The NameID format asked for (default: none asked).
``clock_skew``
    Seconds of clock difference tolerated (default 60, at most 180).
``idp_initiated``
    ``{enabled: false, client_id, redirect_uri, scope}``: IdP-initiated sign-in, only into
    that application.
``single_logout``
    Signing out of Foyer also signs out at the IdP (default false).
``sp_entity_id``
    The service provider's entity ID (default ``urn:foyer:<tenant>:<connection>``).
"""

from __future__ import annotations

import dataclasses
import typing as t

from app.connections.strategies import StrategyUnavailable
from app.strategies.saml_idp_metadata import idp_metadata

if t.TYPE_CHECKING:
    from saml2.config import SPConfig

    from app.connections.models import Connection
    from app.strategies.saml_keys import KeyFiles

BINDING_HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_HTTP_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
NAMEID_FORMAT_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
"""SAML 2.0's names of its bindings and of a transient NameID (pysaml2's constants; a test
holds them equal), here so that naming them does not load the library."""
SIGNING_ALGORITHM = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
DIGEST_ALGORITHM = "http://www.w3.org/2001/04/xmlenc#sha256"
DEFAULT_CLOCK_SKEW = 60
MAX_CLOCK_SKEW = 180
"""The most clock difference an administrator may allow (seconds): a longer window lets a
stolen assertion live on."""

DEFAULT_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "mail",
        "emailAddress",
        "urn:oid:0.9.2342.19200300.100.1.3",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    ),
    "name": (
        "name",
        "displayName",
        "cn",
        "urn:oid:2.16.840.1.113730.3.1.241",
        "http://schemas.microsoft.com/identity/claims/displayname",
    ),
    "given_name": (
        "given_name",
        "givenName",
        "firstName",
        "urn:oid:2.5.4.42",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    ),
    "family_name": (
        "family_name",
        "sn",
        "surname",
        "lastName",
        "urn:oid:2.5.4.4",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    ),
    "locale": ("locale", "preferredLanguage", "urn:oid:2.16.840.1.113730.3.1.39"),
    "groups": (
        "groups",
        "memberOf",
        "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
    ),
    "subject": (),
}
"""Where each field is looked for when ``attributes`` does not say: the common names of
Okta, Entra ID / ADFS, Google Workspace, Shibboleth (OIDs) and plain names."""


PATH = "/saml/{connection}/{what}"
"""Where a connection's SAML endpoints are, under any host or ``/o/<name>`` path."""


def endpoint_url(base: str, connection: Connection, what: str) -> str:
    """``base`` (an issuer: scheme, host, maybe ``/o/<name>``) + the endpoint's path."""
    return base.rstrip("/") + PATH.format(connection=connection.name, what=what)


KNOWN_OPTIONS = (
    "idp_metadata_url",
    "idp_metadata_xml",
    "idp_entity_id",
    "metadata_refresh",
    "metadata_timeout",
    "binding",
    "sign_requests",
    "require_signed_assertions",
    "email_verified",
    "attributes",
    "app_metadata",
    "name_id_format",
    "clock_skew",
    "idp_initiated",
    "single_logout",
    "sp_entity_id",
    "link_to",
)
"""Every option of a SAML connection (``link_to`` is the federation core's)."""


def check_options(options: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    """What ``foyer apply`` refuses in a SAML connection's options: ``[(field, message)]``."""
    problems: list[tuple[str, str]] = []
    for key in options:
        if key not in KNOWN_OPTIONS:
            problems.append((key, f"unknown option (known: {', '.join(KNOWN_OPTIONS)})"))
    url, xml = options.get("idp_metadata_url"), options.get("idp_metadata_xml")
    if bool(url) == bool(xml):
        problems.append(("idp_metadata_url", "give idp_metadata_url or idp_metadata_xml (one)"))
    elif url and not str(url).startswith(("https://", "http://127.", "http://localhost")):
        problems.append(("idp_metadata_url", "must be https:// (http:// only on loopback)"))
    if options.get("binding", "redirect") not in ("redirect", "post"):
        problems.append(("binding", "must be 'redirect' or 'post'"))
    for key in ("clock_skew", "metadata_refresh", "metadata_timeout"):
        value = options.get(key)
        if value is not None and (not isinstance(value, int | float) or value < 0):
            problems.append((key, "must be a number of seconds"))
    skew = options.get("clock_skew")
    if isinstance(skew, int | float) and not isinstance(skew, bool) and skew > MAX_CLOCK_SKEW:
        problems.append(("clock_skew", f"at most {MAX_CLOCK_SKEW} seconds"))
    attributes = options.get("attributes") or {}
    if not isinstance(attributes, dict):
        problems.append(("attributes", "must map profile fields to attribute names"))
    else:
        for field in attributes:
            if field not in DEFAULT_ATTRIBUTES:
                problems.append((f"attributes.{field}", "unknown profile field"))
    if not isinstance(options.get("app_metadata") or {}, dict):
        problems.append(("app_metadata", "must map app_metadata fields to attribute names"))
    initiated = options.get("idp_initiated") or {}
    if not isinstance(initiated, dict):
        problems.append(("idp_initiated", "must be a mapping (enabled, client_id...)"))
    elif initiated.get("enabled") and not initiated.get("client_id"):
        problems.append(("idp_initiated.client_id", "name the application to sign in to"))
    return problems


class SamlMisconfigured(Exception):
    """The connection's options or the IdP's metadata cannot serve a sign-in."""


@dataclasses.dataclass(frozen=True)
class SamlOptions:
    """A SAML connection's options, checked."""

    binding: str
    sign_requests: bool
    require_signed_assertions: bool
    email_verified: bool
    attributes: dict[str, tuple[str, ...]]
    app_metadata: dict[str, str]
    name_id_format: str | None
    clock_skew: int
    idp_entity_id: str | None
    idp_initiated: bool
    idp_initiated_client_id: str | None
    idp_initiated_redirect_uri: str | None
    idp_initiated_scope: str
    single_logout: bool
    sp_entity_id: str | None

    @classmethod
    def of(cls, connection: Connection) -> SamlOptions:
        options = dict(connection.options or {})
        attributes = dict(DEFAULT_ATTRIBUTES)
        for field, names in dict(options.get("attributes") or {}).items():
            if field not in DEFAULT_ATTRIBUTES:
                raise SamlMisconfigured(f"attributes: unknown field {field!r}")
            attributes[field] = (names,) if isinstance(names, str) else tuple(map(str, names))
        binding = str(options.get("binding", "redirect"))
        if binding not in ("redirect", "post"):
            raise SamlMisconfigured(f"binding: {binding!r} is neither 'redirect' nor 'post'")
        initiated = dict(options.get("idp_initiated") or {})
        skew = int(options.get("clock_skew", DEFAULT_CLOCK_SKEW))
        return cls(
            binding=binding,
            sign_requests=bool(options.get("sign_requests", True)),
            require_signed_assertions=bool(options.get("require_signed_assertions", False)),
            email_verified=bool(options.get("email_verified", False)),
            attributes=attributes,
            app_metadata={str(k): str(v) for k, v in (options.get("app_metadata") or {}).items()},
            name_id_format=options.get("name_id_format") or None,
            clock_skew=max(0, min(skew, MAX_CLOCK_SKEW)),
            idp_entity_id=options.get("idp_entity_id") or None,
            idp_initiated=bool(initiated.get("enabled", False)),
            idp_initiated_client_id=initiated.get("client_id") or None,
            idp_initiated_redirect_uri=initiated.get("redirect_uri") or None,
            idp_initiated_scope=str(initiated.get("scope") or "openid"),
            single_logout=bool(options.get("single_logout", False)),
            sp_entity_id=options.get("sp_entity_id") or None,
        )

    @property
    def request_binding(self) -> str:
        return BINDING_HTTP_POST if self.binding == "post" else BINDING_HTTP_REDIRECT


def xmlsec_binary() -> str:
    """The ``xmlsec1`` program the SAML library signs and checks signatures with.

    :raises StrategyUnavailable: when it is not installed (``scripts/setup`` installs it).
    """
    # memory: pysaml2 (about 12 MiB) loads with the first SAML request, not in every worker
    from saml2.sigver import get_xmlsec_binary

    try:
        return str(get_xmlsec_binary())
    except Exception:
        raise StrategyUnavailable("xmlsec1 is not installed") from None


def sp_config(
    entity_id: str,
    options: SamlOptions,
    keys: KeyFiles,
    acs_urls: list[str],
    slo_urls: list[str],
    metadata_xml: str | None,
    *,
    allow_unsolicited: bool = False,
) -> SPConfig:
    """The SAML library's configuration of the service provider for one use."""
    # memory: pysaml2 (about 12 MiB) loads with the first SAML request, not in every worker
    from saml2.config import SPConfig

    service: dict[str, t.Any] = {
        "endpoints": {
            "assertion_consumer_service": [(url, BINDING_HTTP_POST) for url in acs_urls],
            "single_logout_service": [
                (url, binding)
                for url in slo_urls
                for binding in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST)
            ],
        },
        "authn_requests_signed": options.sign_requests,
        "logout_requests_signed": options.sign_requests,
        "want_response_signed": False,
        "want_assertions_signed": options.require_signed_assertions,
        "want_assertions_or_response_signed": True,
        "allow_unsolicited": allow_unsolicited,
        "signing_algorithm": SIGNING_ALGORITHM,
        "digest_algorithm": DIGEST_ALGORITHM,
    }
    if options.name_id_format:
        service["name_id_format"] = [options.name_id_format]
    settings: dict[str, t.Any] = {
        "entityid": entity_id,
        "xmlsec_binary": xmlsec_binary(),
        "key_file": keys.key_file,
        "cert_file": keys.cert_file,
        "additional_cert_files": keys.published_cert_files or None,
        "encryption_keypairs": keys.decryption_pairs,
        "accepted_time_diff": options.clock_skew,
        "allow_unknown_attributes": True,
        "service": {"sp": service},
        "delete_tmpfiles": True,
    }
    if metadata_xml is not None:
        settings["metadata"] = {"inline": [metadata_xml]}
    config = SPConfig()
    try:
        config.load(settings)
    except Exception as error:  # the IdP's metadata does not parse
        raise SamlMisconfigured(f"IdP metadata: {type(error).__name__}: {error}") from None
    return config


def load_idp_metadata(connection: Connection) -> str:
    """The connection's IdP metadata XML (:mod:`app.strategies.saml_idp_metadata`)."""
    return idp_metadata(connection)
