"""The builtin ``saml`` strategy: Foyer as a SAML 2.0 service provider of the customer's IdP.

SP-initiated sign-in sends an AuthnRequest (HTTP-Redirect, or HTTP-POST through Foyer's
auto-posting page) whose ID is kept in the login transaction; the IdP answers at the
connection's Assertion Consumer Service (the login room's route), and
:meth:`SamlStrategy.finish_login` accepts the answer only when every check passes: a
signature on the response or on the assertion from a key of the IdP's metadata, the issuer,
destination, recipient, audience, ``InResponseTo`` (the transaction's request), the
validity window (with ``clock_skew``), and an assertion never seen before (remembered in
the database until it expires). The SAML library is pysaml2, which signs and checks with
the ``xmlsec1`` program; it is imported by the first SAML request a worker serves (with
xmlschema, about 16 MiB that an instance without SAML connections never needs).

The URLs of a connection are under ``/saml/<connection>/`` on every host and path of the
tenant: ``metadata``, ``acs``, ``slo``, ``post`` (the auto-posting page) and ``continue``
(an IdP-initiated sign-in, once checked). The entity ID is stable whatever host serves the
request.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
import typing as t
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.connections.models import OrganizationConnection
from app.connections.strategies import AuthResult
from app.connections.strategies import StrategyUnavailable
from app.connections.strategies import UpstreamError
from app.connections.strategies import UpstreamLogin
from app.connections.strategies import UpstreamProfile
from app.connections.strategies import new_state
from app.db import session
from app.db import utcnow
from app.hookspecs import hookimpl
from app.orgs.models import Organization
from app.strategies.saml_keys import key_files
from app.strategies.saml_keys import sp_keys
from app.strategies.saml_models import SamlAssertionSeen
from app.strategies.saml_settings import BINDING_HTTP_POST
from app.strategies.saml_settings import BINDING_HTTP_REDIRECT
from app.strategies.saml_settings import NAMEID_FORMAT_TRANSIENT
from app.strategies.saml_settings import SIGNING_ALGORITHM
from app.strategies.saml_settings import SamlMisconfigured
from app.strategies.saml_settings import SamlOptions
from app.strategies.saml_settings import check_options
from app.strategies.saml_settings import endpoint_url
from app.strategies.saml_settings import load_idp_metadata
from app.strategies.saml_settings import sp_config
from app.tenancy.models import Tenant
from app.tenancy.resolve import request_issuer

if t.TYPE_CHECKING:
    from saml2.client import Saml2Client

    from app.accounts.models import User
    from app.connections.models import Connection
    from app.connections.strategies import ConnectionStrategy
    from app.connections.strategies import Diagnosis
    from app.connections.strategies import UpstreamAnswer

log = logging.getLogger(__name__)

REPLAY_MARGIN = dt.timedelta(minutes=5)
"""An accepted assertion is remembered this long past its own expiry (and the skew)."""
DEFAULT_REMEMBER = dt.timedelta(hours=1)
PRUNE_INTERVAL = 60.0
_PRUNED_AT = "foyer.saml.assertions_pruned_at"
_METADATA = "foyer.saml.sp_metadata"
METADATA_CACHE_SIZE = 256
"""SP metadata documents a worker keeps (one per connection and key set)."""


@dataclasses.dataclass(frozen=True)
class LogoutMessage:
    """A Single Logout message from the IdP, its signature checked."""

    kind: str
    """``request`` (the IdP ends the session) or ``response`` (to Foyer's request)."""
    name_id: str | None = None
    """The NameID element of a request (XML), as stored at sign-in."""
    session_indexes: tuple[str, ...] = ()
    request_id: str | None = None
    success: bool = True


class SamlStrategy:
    """A SAML 2.0 connection: users come from the customer's IdP, never with a password."""

    name: t.ClassVar[str] = "saml"
    kind: t.ClassVar[str] = "redirect"

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @staticmethod
    def check_options(
        options: t.Mapping[str, t.Any], secrets: t.Mapping[str, t.Any]
    ) -> list[tuple[str, str]]:
        """What ``foyer apply`` refuses in the options (the keys are not secrets)."""
        return check_options(options)

    # --- what a password strategy would do: nothing here ----------------------------------

    def authenticate(self, identifier: str, password: str) -> AuthResult:
        return AuthResult(None)

    def find_user(self, identifier: str) -> User | None:
        return None

    def set_password(self, user: User, password: str) -> None:
        raise NotImplementedError("users of a SAML connection have no password at Foyer")

    # --- the service provider -------------------------------------------------------------

    @property
    def options(self) -> SamlOptions:
        try:
            return SamlOptions.of(self.connection)
        except (SamlMisconfigured, TypeError, ValueError) as error:
            raise StrategyUnavailable(f"connection options: {error}") from None

    @property
    def tenant(self) -> Tenant:
        tenant = session.get(Tenant, self.connection.tenant_id)
        assert tenant is not None
        return tenant

    @property
    def entity_id(self) -> str:
        """The service provider's entity ID: stable across hosts, paths and domain changes."""
        configured = self.options.sp_entity_id
        return configured or f"urn:foyer:{self.tenant.name}:{self.connection.name}"

    def published_bases(self) -> list[str]:
        """Every issuer a sign-in through this connection may come back to: each domain of
        the tenant, then each ``/o/<name>`` path of an organization enabling it."""
        tenant = self.tenant
        bases = [domain.base_url for domain in tenant.domains]
        try:
            primary = tenant.base_url
        except LookupError:
            return bases
        bases.remove(primary)
        bases.insert(0, primary)
        for link in sorted(self.connection_links(), key=lambda name: name):
            bases.append(f"{primary}/o/{link}")
        return bases

    def connection_links(self) -> list[str]:
        """The names of the organizations enabling the connection."""
        return list(
            session.scalars(
                sa.select(Organization.name)
                .join(
                    OrganizationConnection,
                    OrganizationConnection.organization_id == Organization.id,
                )
                .where(OrganizationConnection.connection_id == self.connection.id)
            )
        )

    def metadata_xml(self) -> str:
        """The SP metadata to give the customer's IdP: entity ID, the ACS and SLO URLs of
        every host and path, and every published certificate (two during a rotation).

        Kept per worker while nothing it shows changes (the library asks ``xmlsec1`` which
        algorithms it supports each time it writes one)."""
        # memory: pysaml2 (about 12 MiB) loads with the first SAML request, not in every worker
        from saml2.metadata import entity_descriptor

        bases = self.published_bases() or [request_issuer()]
        keys = sp_keys(self.connection)
        options = self.options
        cache = t.cast(dict[str, str], current_app.extensions.setdefault(_METADATA, {}))
        key = json.dumps(
            [self.entity_id, bases, [(k.id, k.state) for k in keys], self.connection.options],
            sort_keys=True,
            default=str,
        )
        found = cache.get(key)
        if found is not None:
            return found
        with key_files(keys) as files:
            config = sp_config(
                self.entity_id,
                options,
                files,
                [endpoint_url(base, self.connection, "acs") for base in bases],
                [endpoint_url(base, self.connection, "slo") for base in bases],
                None,
            )
            descriptor = entity_descriptor(config)
        descriptor.spsso_descriptor.want_assertions_signed = (
            "true" if options.require_signed_assertions else "false"
        )
        xml = str(descriptor.to_string().decode())
        if len(cache) >= METADATA_CACHE_SIZE:
            cache.clear()
        cache[key] = xml
        return xml

    # --- sign-in ----------------------------------------------------------------------------

    def start_login(self, login: UpstreamLogin) -> str:
        """The IdP's SSO URL with a signed AuthnRequest (Redirect binding), or Foyer's page
        that posts it (POST binding). The request ID goes in ``login.saved``.

        :raises StrategyUnavailable: no metadata, no SSO endpoint, or a bad configuration.
        """
        options = self.options
        base = request_issuer()
        acs = endpoint_url(base, self.connection, "acs")
        metadata = load_idp_metadata(self.connection)
        with self._client(options, [acs], metadata) as (client, idp):
            destination = _sso_location(client, idp, options.request_binding)
            extra: dict[str, t.Any] = {"assertion_consumer_service_url": acs}
            if login.force_login:
                extra["force_authn"] = "true"
            if options.name_id_format:
                extra["nameid_format"] = options.name_id_format
            post = options.request_binding == BINDING_HTTP_POST
            request_id, request = client.create_authn_request(
                destination,
                binding=BINDING_HTTP_POST,
                sign=options.sign_requests and post,
                sign_alg=SIGNING_ALGORITHM,
                **extra,
            )
            state = new_state(login.transaction_id)  # the RelayState: names the sign-in
            login.saved.update({"request_id": request_id, "acs": acs, "idp": idp, "state": state})
            if post:
                encoded = base64.b64encode(str(request).encode()).decode()
                login.saved["post"] = {"url": destination, "SAMLRequest": encoded}
                return (
                    endpoint_url(base, self.connection, "post")
                    + "?"
                    + urlencode({"tx": login.transaction_id})
                )
            info = client.apply_binding(
                BINDING_HTTP_REDIRECT,
                str(request),
                destination,
                relay_state=state,
                sign=options.sign_requests,
                sigalg=SIGNING_ALGORITHM,
            )
        return str(dict(info["headers"])["Location"])

    def finish_login(self, answer: UpstreamAnswer) -> UpstreamProfile:
        """Check the SAMLResponse posted to the ACS and say whom it signs in.

        ``answer.saved`` holds the AuthnRequest's ID and the ACS URL it named; without them
        the response is IdP-initiated (checked against ``answer.callback_url``, the ACS it
        came to), accepted only when the connection enables that.

        :raises UpstreamError: for every response that fails a check.
        """
        try:
            options = SamlOptions.of(self.connection)
        except (SamlMisconfigured, TypeError, ValueError) as error:
            raise UpstreamError("upstream_misconfigured", str(error)) from None
        request_id = answer.saved.get("request_id")
        acs = str(answer.saved.get("acs") or answer.callback_url)
        if request_id is None and not options.idp_initiated:
            raise UpstreamError("invalid_response", "unsolicited response: IdP-initiated is off")
        encoded = answer.params.get("SAMLResponse")
        if not encoded:
            raise UpstreamError("invalid_response", "no SAMLResponse")
        try:
            metadata = load_idp_metadata(self.connection)
        except StrategyUnavailable as error:
            raise UpstreamError("upstream_unavailable", str(error)) from None
        # memory: pysaml2 (about 12 MiB) loads with the first SAML request, not in every worker
        from app.strategies.saml_schema import check_schema

        check_schema(encoded)
        outstanding = {request_id: answer.transaction_id} if request_id else {}
        try:
            with self._client(options, [acs], metadata, allow_unsolicited=request_id is None) as (
                client,
                idp,
            ):
                response = _parse(client, encoded, outstanding)  # raises UpstreamError only
        except StrategyUnavailable as error:
            raise UpstreamError("upstream_misconfigured", str(error)) from None
        _check(response, options, idp, self.entity_id, acs, request_id)
        self._remember(response, options)
        return _profile(response, options)

    def _client(
        self,
        options: SamlOptions,
        acs_urls: list[str],
        metadata: str,
        *,
        allow_unsolicited: bool = False,
    ) -> t.ContextManager[tuple[Saml2Client, str]]:
        """The SAML client (kept per worker, :mod:`app.strategies.saml_clients`) and the
        entity ID of the IdP it talks to, for a ``with`` block.

        :raises StrategyUnavailable: the configuration or the IdP metadata does not fit.
        """
        # memory: pysaml2 (about 12 MiB) loads with the first SAML request, not in every worker
        from app.strategies.saml_clients import saml_client

        return saml_client(
            self.connection,
            metadata,
            sp_keys(self.connection),
            acs_urls,
            allow_unsolicited,
            lambda files: self._open(
                options, files, acs_urls, metadata, allow_unsolicited=allow_unsolicited
            ),
        )

    def _open(
        self,
        options: SamlOptions,
        files: t.Any,
        acs_urls: list[str],
        metadata: str,
        *,
        allow_unsolicited: bool = False,
    ) -> tuple[Saml2Client, str]:
        """A SAML client, and the entity ID of the IdP it talks to."""
        # memory: pysaml2 (about 12 MiB) loads with the first SAML request, not in every worker
        from saml2.client import Saml2Client

        slo = [url.rsplit("/", 1)[0] + "/slo" for url in acs_urls]
        try:
            config = sp_config(
                self.entity_id,
                options,
                files,
                acs_urls,
                slo,
                metadata,
                allow_unsolicited=allow_unsolicited,
            )
        except SamlMisconfigured as error:
            raise StrategyUnavailable(str(error)) from None
        client = Saml2Client(config)
        idps = list(client.metadata.identity_providers())
        idp = options.idp_entity_id
        if idp is None:
            if len(idps) != 1:
                raise StrategyUnavailable(
                    f"the IdP metadata describes {len(idps)} IdPs: set idp_entity_id"
                )
            idp = idps[0]
        elif idp not in idps:
            raise StrategyUnavailable(f"the IdP metadata does not describe {idp}")
        return client, idp

    def _remember(self, response: t.Any, options: SamlOptions) -> None:
        """Record the assertion as used; refuse it when it was used before (any worker)."""
        assertion = response.assertion
        issuer = response.issuer() or ""
        digest = hashlib.sha256(f"{issuer}\n{assertion.id}".encode()).hexdigest()
        expires = _assertion_expiry(assertion) or utcnow() + DEFAULT_REMEMBER
        expires += dt.timedelta(seconds=options.clock_skew) + REPLAY_MARGIN
        _prune_assertions()
        session.add(
            SamlAssertionSeen(
                connection_id=self.connection.id, assertion_hash=digest, expires_at=expires
            )
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise UpstreamError("invalid_response", "replayed assertion") from None

    # --- Single Logout --------------------------------------------------------------------

    def logout_url(self, logout: t.Mapping[str, t.Any], relay_state: str) -> str | None:
        """Where to send the browser so that the IdP ends its session too (a signed
        LogoutRequest, HTTP-Redirect binding); None when ``single_logout`` is off or the
        IdP has no Single Logout endpoint."""
        # memory: pysaml2 (about 12 MiB) loads with the first SAML request, not in every worker
        from saml2.saml import name_id_from_string

        options = self.options
        if not options.single_logout or not logout.get("name_id"):
            return None
        base = request_issuer()
        acs = endpoint_url(base, self.connection, "acs")
        metadata = load_idp_metadata(self.connection)
        with self._client(options, [acs], metadata) as (client, idp):
            try:
                locations = client.metadata.single_logout_service(
                    idp, BINDING_HTTP_REDIRECT, "idpsso"
                )
            except Exception:
                locations = []
            if not locations:
                return None
            destination = locations[0]["location"]
            indexes = [logout["session_index"]] if logout.get("session_index") else None
            _request_id, request = client.create_logout_request(
                destination,
                idp,
                name_id=name_id_from_string(logout["name_id"]),
                session_indexes=indexes,
                sign=False,
            )
            info = client.apply_binding(
                BINDING_HTTP_REDIRECT,
                str(request),
                destination,
                relay_state=relay_state,
                sign=options.sign_requests,
                sigalg=SIGNING_ALGORITHM,
            )
        return str(dict(info["headers"])["Location"])

    def read_logout_message(self, params: t.Mapping[str, str], binding: str) -> LogoutMessage:
        """Check a LogoutRequest or LogoutResponse from the IdP: it must be signed by a key
        of the IdP's metadata (the query signature of HTTP-Redirect, or an enveloped one).

        :raises UpstreamError: unsigned, badly signed, or not a logout message.
        """
        saml_binding = BINDING_HTTP_REDIRECT if binding == "redirect" else BINDING_HTTP_POST
        kind = "request" if "SAMLRequest" in params else "response"
        encoded = params.get("SAMLRequest") or params.get("SAMLResponse")
        if not encoded:
            raise UpstreamError("invalid_response", "no SAML logout message")
        options = self.options
        slo = endpoint_url(request_issuer(), self.connection, "slo")
        acs = endpoint_url(request_issuer(), self.connection, "acs")
        try:
            metadata = load_idp_metadata(self.connection)
        except StrategyUnavailable as error:
            raise UpstreamError("upstream_unavailable", str(error)) from None
        with self._client(options, [acs], metadata) as (client, idp):
            if saml_binding == BINDING_HTTP_REDIRECT:
                _check_redirect_signature(client, idp, params, kind)
            try:
                if kind == "request":
                    parsed = client.parse_logout_request(encoded, saml_binding)
                else:
                    parsed = client.parse_logout_request_response(encoded, saml_binding)
            except Exception as error:
                raise UpstreamError("invalid_response", f"logout: {type(error).__name__}") from None
            if parsed is None:
                raise UpstreamError("invalid_response", "logout message not understood")
            message = parsed.message if kind == "request" else parsed.response
            if saml_binding == BINDING_HTTP_POST and message.signature is None:
                raise UpstreamError("invalid_response", "unsigned logout message")
            if message.issuer is None or message.issuer.text != idp:
                raise UpstreamError("invalid_response", "logout message from another issuer")
            if message.destination and message.destination != slo:
                raise UpstreamError("invalid_response", "logout message for another destination")
        if kind == "response":
            status = message.status.status_code.value if message.status else ""
            return LogoutMessage(
                "response",
                request_id=message.in_response_to,
                success=status.endswith(":Success"),
            )
        return LogoutMessage(
            "request",
            name_id=str(message.name_id) if message.name_id is not None else None,
            session_indexes=tuple(si.text for si in message.session_index or []),
            request_id=message.id,
        )

    def logout_response_url(self, request_id: str, relay_state: str | None) -> str | None:
        """The signed LogoutResponse (HTTP-Redirect) answering the IdP's LogoutRequest."""
        # memory: pysaml2 (about 12 MiB) loads with the first SAML request, not in every worker
        from saml2.samlp import LogoutResponse

        options = self.options
        acs = endpoint_url(request_issuer(), self.connection, "acs")
        metadata = load_idp_metadata(self.connection)
        with self._client(options, [acs], metadata) as (client, idp):
            try:
                locations = client.metadata.single_logout_service(
                    idp, BINDING_HTTP_REDIRECT, "idpsso"
                )
            except Exception:
                locations = []
            if not locations:
                return None
            destination = locations[0].get("response_location") or locations[0]["location"]
            response = client._status_response(
                LogoutResponse,
                client._issuer(),
                None,
                False,
                destination=destination,
                in_response_to=request_id,
            )
            info = client.apply_binding(
                BINDING_HTTP_REDIRECT,
                str(response),
                destination,
                relay_state=relay_state or "",
                response=True,
                sign=options.sign_requests,
                sigalg=SIGNING_ALGORITHM,
            )
        return str(dict(info["headers"])["Location"])

    # --- operators --------------------------------------------------------------------------

    def diagnose(self) -> list[Diagnosis]:
        """What ``foyer connections test`` prints and checks for this connection."""
        # memory: pysaml2 (about 12 MiB) loads with the first SAML request, not in every worker
        from app.strategies.saml_diagnose import diagnose

        return diagnose(self)


def _sso_location(client: Saml2Client, idp: str, binding: str) -> str:
    try:
        locations = client.metadata.single_sign_on_service(idp, binding)
    except Exception:
        locations = []
    if not locations:
        name = "HTTP-POST" if binding == BINDING_HTTP_POST else "HTTP-Redirect"
        raise StrategyUnavailable(f"the IdP has no SingleSignOnService for {name}")
    return str(locations[0]["location"])


def _parse(client: Saml2Client, encoded: str, outstanding: dict[str, str]) -> t.Any:
    """The SAML library's checks, each failure named for the log and the event."""
    # memory: pysaml2 (about 12 MiB) loads with the first SAML request, not in every worker
    from saml2.response import StatusError
    from saml2.response import UnsolicitedResponse
    from saml2.validate import ResponseLifetimeExceed
    from saml2.validate import ToEarly

    try:
        response = client.parse_authn_request_response(
            encoded, BINDING_HTTP_POST, outstanding=outstanding
        )
    except StatusError as error:
        raise UpstreamError("access_denied", f"IdP status: {error}") from None
    except ResponseLifetimeExceed:
        raise UpstreamError("invalid_response", "expired") from None
    except ToEarly:
        raise UpstreamError("invalid_response", "not yet valid") from None
    except UnsolicitedResponse:
        raise UpstreamError(
            "invalid_response", "InResponseTo names no request of this sign-in"
        ) from None
    except Exception as error:
        detail = f"{type(error).__name__}: {error}"[:300]
        if "signature" in detail.lower() or "signed" in detail.lower():
            raise UpstreamError("invalid_response", f"bad signature ({detail})") from None
        raise UpstreamError("invalid_response", detail) from None
    if response is None or response.assertion is None:
        raise UpstreamError("invalid_response", "no assertion")
    return response


def _check(
    response: t.Any,
    options: SamlOptions,
    idp: str,
    entity_id: str,
    acs: str,
    request_id: str | None,
) -> None:
    """The checks Foyer adds to the library's: each refusal names what failed."""
    message, assertion = response.response, response.assertion
    if message.signature is None and assertion.signature is None:
        raise UpstreamError("invalid_response", "unsigned response and assertion")
    if options.require_signed_assertions and assertion.signature is None:
        raise UpstreamError("invalid_response", "unsigned assertion")
    if response.issuer() != idp:
        raise UpstreamError("invalid_response", "issuer is not the connection's IdP")
    if assertion.issuer is None or assertion.issuer.text != idp:
        raise UpstreamError("invalid_response", "assertion issuer is not the connection's IdP")
    if message.destination != acs:
        raise UpstreamError("invalid_response", "wrong destination")
    if request_id is not None and response.in_response_to != request_id:
        raise UpstreamError("invalid_response", "InResponseTo names no request of this sign-in")
    if request_id is None and response.in_response_to:
        raise UpstreamError("invalid_response", "InResponseTo without a request (unsolicited)")
    conditions = assertion.conditions
    audiences = [
        audience.text
        for restriction in (conditions.audience_restriction if conditions else [])
        for audience in restriction.audience
    ]
    if entity_id not in audiences:
        raise UpstreamError("invalid_response", "wrong audience")
    confirmations = assertion.subject.subject_confirmation if assertion.subject else []
    recipients = [
        c.subject_confirmation_data.recipient
        for c in confirmations
        if c.subject_confirmation_data is not None
    ]
    if acs not in recipients:
        raise UpstreamError("invalid_response", "wrong recipient")


def _assertion_expiry(assertion: t.Any) -> dt.datetime | None:
    """The latest NotOnOrAfter of the assertion (conditions, subject confirmations)."""
    values = []
    if assertion.conditions is not None and assertion.conditions.not_on_or_after:
        values.append(assertion.conditions.not_on_or_after)
    for confirmation in assertion.subject.subject_confirmation if assertion.subject else []:
        data = confirmation.subject_confirmation_data
        if data is not None and data.not_on_or_after:
            values.append(data.not_on_or_after)
    parsed = [_instant(value) for value in values]
    found = [value for value in parsed if value is not None]
    return max(found) if found else None


def _instant(value: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _prune_assertions() -> None:
    """Delete expired replay records, at most once per :data:`PRUNE_INTERVAL` per process."""
    now = time.monotonic()
    last = current_app.extensions.get(_PRUNED_AT)
    if last is not None and now - last < PRUNE_INTERVAL:
        return
    current_app.extensions[_PRUNED_AT] = now
    session.execute(sa.delete(SamlAssertionSeen).where(SamlAssertionSeen.expires_at <= utcnow()))


def attributes_of(assertion: t.Any) -> dict[str, list[str]]:
    """Every attribute as received, by name and by friendly name."""
    found: dict[str, list[str]] = {}
    for statement in assertion.attribute_statement or []:
        for attribute in statement.attribute or []:
            values = [
                (value.text or "").strip()
                for value in attribute.attribute_value or []
                if value.text is not None
            ]
            for key in (attribute.name, attribute.friendly_name):
                if key:
                    found.setdefault(key, []).extend(values)
    return found


def _first(attributes: dict[str, list[str]], names: t.Iterable[str]) -> str | None:
    for name in names:
        for value in attributes.get(name, []):
            if value:
                return value
    return None


def _profile(response: t.Any, options: SamlOptions) -> UpstreamProfile:
    """Map the assertion to Foyer's fields with the connection's attribute mapping."""
    assertion = response.assertion
    attributes = attributes_of(assertion)
    name_id = assertion.subject.name_id if assertion.subject else None
    subject = _first(attributes, options.attributes["subject"])
    if subject is None:
        if name_id is None or not (name_id.text or "").strip():
            raise UpstreamError("invalid_response", "no NameID")
        if name_id.format == NAMEID_FORMAT_TRANSIENT:
            raise UpstreamError(
                "upstream_misconfigured",
                "transient NameID: map attributes.subject to a persistent attribute",
            )
        subject = name_id.text.strip()
    email = _first(attributes, options.attributes["email"])
    groups: list[str] = []
    for name in options.attributes["groups"]:
        groups.extend(value for value in attributes.get(name, []) if value not in groups)
    app_metadata = {
        key: (values[0] if len(values) == 1 else values)
        for key, name in options.app_metadata.items()
        if (values := attributes.get(name))
    }
    statements = assertion.authn_statement or []
    session_index = statements[0].session_index if statements else None
    not_after = statements[0].session_not_on_or_after if statements else None
    return UpstreamProfile(
        subject=subject[:255],
        email=email,
        email_verified=bool(email) and options.email_verified,
        name=_first(attributes, options.attributes["name"]),
        given_name=_first(attributes, options.attributes["given_name"]),
        family_name=_first(attributes, options.attributes["family_name"]),
        locale=_first(attributes, options.attributes["locale"]),
        groups=groups,
        app_metadata=app_metadata,
        amr=["fed"],
        claims={
            "name_id": name_id.text if name_id else None,
            "name_id_format": name_id.format if name_id else None,
            "session_index": session_index,
            "attributes": attributes,
        },
        logout={
            "name_id": str(name_id) if name_id is not None else None,
            "session_index": session_index,
            "session_not_on_or_after": not_after,
        },
    )


def _check_redirect_signature(
    client: Saml2Client, idp: str, params: t.Mapping[str, str], kind: str
) -> None:
    """The query signature of an HTTP-Redirect message, by a signing key of the IdP."""
    # memory: pysaml2 (about 12 MiB) loads with the first SAML request, not in every worker
    from saml2.sigver import verify_redirect_signature

    signature, algorithm = params.get("Signature"), params.get("SigAlg")
    if not signature or not algorithm:
        raise UpstreamError("invalid_response", "unsigned logout message")
    message = {
        "SAMLRequest" if kind == "request" else "SAMLResponse": params.get(
            "SAMLRequest" if kind == "request" else "SAMLResponse", ""
        )
    }
    if "RelayState" in params:
        message["RelayState"] = params["RelayState"]
    message.update({"SigAlg": algorithm, "Signature": signature})
    certificates = client.metadata.certs(idp, "idpsso", "signing")
    for _name, certificate in certificates:
        try:
            if verify_redirect_signature(message, client.sec.sec_backend, certificate):
                return
        except Exception:
            continue
    raise UpstreamError("invalid_response", "bad logout signature")


def same_name_id(stored: str, received: str) -> bool:
    """Two NameID elements (XML) name the same subject: the same text and format."""
    # memory: pysaml2 (about 12 MiB) loads with the first SAML request, not in every worker
    from saml2.saml import name_id_from_string

    try:
        a, b = name_id_from_string(stored), name_id_from_string(received)
    except Exception:
        return False
    return bool(a is not None and b is not None and a.text == b.text and a.format == b.format)


def name_id_xml(text: str | None, name_format: str | None) -> str | None:
    """A NameID element (XML) from its text and format, as a LogoutRequest names it."""
    # memory: pysaml2 (about 12 MiB) loads with the first SAML request, not in every worker
    from saml2.saml import NameID

    if not text:
        return None
    return str(NameID(text=text, format=name_format or None))


@hookimpl
def register_connection_strategies() -> list[type[ConnectionStrategy]]:
    return [SamlStrategy]
