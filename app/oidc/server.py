"""The authlib AuthorizationServer of an app, and the endpoints it runs.

Built once per app by :func:`init_server` (``app.extensions['foyer.oidc.server']``) and shared
by every tenant: clients, keys and issuers are looked up per request from the host.
Views call the small methods here; all authlib plumbing stays in this module and
:mod:`app.oidc.grants`.
"""

from __future__ import annotations

import time
import typing as t
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749 import ResourceProtector
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import Flask
from flask import current_app
from flask import request as flask_request
from joserfc.jwk import KeySet
from werkzeug.wrappers import Response

from app.clients.services import tenant_client
from app.events.record import record_event
from app.oidc import grants
from app.oidc import keys
from app.oidc import tokens
from app.oidc.state import protocol_state
from app.sessions.services import end_sso_session
from app.tenancy.resolve import current_tenant
from app.tenancy.resolve import request_issuer

if t.TYPE_CHECKING:
    from authlib.oidc.rpinitiated import EndSessionRequest

    from app.accounts.models import User
    from app.sessions.models import SsoSession


def transport_checked_url(url: str) -> str:
    """The URL authlib checks for https: a ``*.localhost`` name (a vanity host in
    development) is loopback like ``localhost`` itself (RFC 6761 §6.3), so it is checked
    as ``localhost``; every other host keeps authlib's rule."""
    parts = urlsplit(url)
    if parts.scheme == "http" and (parts.hostname or "").endswith(".localhost"):
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit(parts._replace(netloc=f"localhost{port}"))
    return url


class StoredAuthorizationRequest(OAuth2Request):  # type: ignore[misc]
    """An authorization request replayed from stored parameters (after the hosted login)."""

    def __init__(self, params: t.Mapping[str, str]) -> None:
        super().__init__(
            "GET", transport_checked_url(flask_request.url), headers=flask_request.headers
        )
        self.uri = flask_request.url
        self.payload = BasicOAuth2Payload(dict(params))

    @property
    def args(self) -> t.Mapping[str, str]:
        return t.cast(t.Mapping[str, str], self.payload.data)

    @property
    def form(self) -> t.Mapping[str, str]:
        return {}


class FoyerFlaskRequest(FlaskOAuth2Request):  # type: ignore[misc]
    """The current request, transport-checked with :func:`transport_checked_url`."""

    def __init__(self, request: t.Any) -> None:
        url = request.url  # Werkzeug builds it again on every read
        OAuth2Request.__init__(
            self, request.method, transport_checked_url(url), headers=request.headers
        )
        self.uri = url
        self._request = request
        self.payload = FlaskOAuth2Payload(request)


class FoyerIssuerParameter(IssuerParameter):  # type: ignore[misc]
    """RFC 9207: ``iss`` on every authorization response, this host's issuer."""

    def get_issuer(self) -> str:
        return request_issuer()


class SearchesBothTokenTypes:
    """What revocation (RFC 7009 §2.1) and introspection (RFC 7662 §2.1) share: a ``token``
    is required, every supported type is searched and the hint only says which first; a
    token found must belong to a family of this tenant."""

    SEARCHED_FIRST = "refresh_token"
    _refresh_token: t.Callable[[str], t.Any]  # each endpoint builds its own answer
    _access_token: t.Callable[[str], t.Any]

    def check_params(self, request: OAuth2Request, client: grants.OAuthClient) -> None:
        if not request.form.get("token"):
            raise InvalidRequestError("Missing 'token' in request.")
        # an unknown token_type_hint is ignored: every supported type is searched

    def query_token(self, token_string: str, token_type_hint: str | None) -> t.Any:
        finders = {"refresh_token": self._refresh_token, "access_token": self._access_token}
        first = token_type_hint if token_type_hint in finders else self.SEARCHED_FIRST
        for kind in (first, *(k for k in finders if k != first)):
            found = finders[kind](token_string)
            if found is not None:
                return found
        return None


def family_in_tenant(grant_id: str | None) -> tokens.Family | None:
    """The token family, when it exists and is this tenant's."""
    family = tokens.find_grant(grant_id) if grant_id else None
    return family if family is not None and family.tenant_id == current_tenant().id else None


class FoyerRevocationEndpoint(SearchesBothTokenTypes, RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. Revoking a refresh token or a user's access token revokes its family.

    A machine (client_credentials) token is self-contained: it cannot be revoked and simply
    expires; like an unknown token it is answered 200.
    """

    CLIENT_AUTH_METHODS = grants.AUTH_METHODS

    def _refresh_token(self, value: str) -> RevocableToken | None:
        row = tokens.find_refresh_token(value)
        grant = family_in_tenant(row.grant_id) if row is not None else None
        if grant is None:
            return None
        return RevocableToken(grant.id, grant.client_id, grant.user_id, "refresh_token")

    def _access_token(self, value: str) -> RevocableToken | None:
        token = tokens.decode_access_token(value, current_tenant())
        grant = family_in_tenant(token.grant_id) if token is not None else None
        if grant is None:
            return None
        return RevocableToken(grant.id, grant.client_id, grant.user_id, "access_token")

    def revoke_token(self, token: RevocableToken, request: OAuth2Request) -> None:
        tokens.revoke_grant(token.grant_id, "revoked")
        protocol_state().revoked = token


INTROSPECTED_CLAIMS = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "jti",
    "client_id",
    "scope",
    "org_id",
    "org_name",
)
"""Access token claims an introspection answer repeats (plugin claims stay in the JWT)."""


class IntrospectedToken:
    """A token found for introspection: a verified access token, or a stored refresh token."""

    def __init__(
        self,
        kind: str,
        claims: dict[str, t.Any],
        expires_at: int,
        family: tokens.Family | None = None,
        spent: bool = False,
    ) -> None:
        self.kind = kind
        self.claims = claims
        self.expires_at = expires_at
        self.family = family
        self.spent = spent
        """A refresh token already rotated or revoked."""

    @property
    def client_id(self) -> str:
        return str(self.claims.get("client_id"))

    @property
    def audiences(self) -> list[str]:
        aud = self.claims.get("aud")
        return [aud] if isinstance(aud, str) else list(aud or [])

    def is_expired(self) -> bool:
        return self.expires_at <= int(time.time())

    def is_revoked(self) -> bool:
        if self.spent:
            return True
        if self.kind == "refresh_token" or self.claims.get("grant_id"):
            return self.family is None or not tokens.grant_is_active(self.family)
        return False  # a machine token cannot be revoked; it expires


class FoyerIntrospectionEndpoint(  # type: ignore[misc]
    SearchesBothTokenTypes, IntrospectionEndpoint
):
    """RFC 7662, for resource servers: a client may introspect the tokens issued to it and
    the access tokens meant for one of its audiences. Anything else is ``active: false``."""

    CLIENT_AUTH_METHODS = grants.CONFIDENTIAL_AUTH_METHODS
    SEARCHED_FIRST = "access_token"

    def _access_token(self, value: str) -> IntrospectedToken | None:
        token = tokens.decode_access_token(value, current_tenant())
        if token is None:
            return None
        family = family_in_tenant(token.grant_id)
        exp = token.claims.get("exp")
        return IntrospectedToken(
            "access_token", token.claims, exp if isinstance(exp, int) else 0, family
        )

    def _refresh_token(self, value: str) -> IntrospectedToken | None:
        row = tokens.find_refresh_token(value)
        family = family_in_tenant(row.grant_id) if row is not None else None
        if row is None or family is None:
            return None
        claims = {
            "iss": family.issuer,
            "sub": family.user_id,
            "client_id": family.client_id,
            "scope": row.scope,
        }
        spent = row.used_at is not None or row.revoked_at is not None
        return IntrospectedToken(
            "refresh_token", claims, int(row.expires_at.timestamp()), family, spent
        )

    def check_permission(
        self, token: IntrospectedToken, client: grants.OAuthClient, request: OAuth2Request
    ) -> bool:
        if token.client_id == client.client_id:
            return True
        if token.kind != "access_token":
            return False
        return bool(set(token.audiences) & set(tokens.client_audiences(client.model)))

    def introspect_token(self, token: IntrospectedToken) -> dict[str, t.Any]:
        if token.kind == "refresh_token":
            return {**token.claims, "exp": token.expires_at}
        payload: dict[str, t.Any] = {
            key: token.claims[key] for key in INTROSPECTED_CLAIMS if key in token.claims
        }
        payload["token_type"] = "Bearer"
        return payload


class RevocableToken(t.NamedTuple):
    grant_id: str
    client_id: str
    user_id: str
    kind: str

    def check_client(self, client: grants.OAuthClient) -> bool:
        return self.client_id == client.client_id


class FoyerEndSessionEndpoint(EndSessionEndpoint):  # type: ignore[misc]
    """RP-initiated logout; the hint is verified with the tenant's keys and alg allow-list."""

    def get_server_jwks(self) -> KeySet:
        return keys.keyring(current_tenant().id).public_keyset

    def get_algorithms(self) -> list[str]:
        return list(keys.ALGORITHMS)

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        sso = end_sso_session()
        if sso is not None and end_session_request.client is not None:
            record_event(
                "logout",
                tenant=current_tenant(),
                user_id=sso.user_id,
                client_id=end_session_request.client.client_id,
                data={"initiator": "relying_party"},
            )


class FoyerAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """One server for every tenant: lookups go through the request's tenant."""

    def __init__(self) -> None:
        super().__init__()
        self.resource_protector = ResourceProtector()
        self.resource_protector.register_token_validator(grants.AccessTokenValidator())
        self.issuer_parameter = FoyerIssuerParameter()

    # -- what authlib asks ------------------------------------------------------------------

    def query_client(self, client_id: str | None) -> grants.OAuthClient | None:
        """The tenant's client with this id (memoized for the request)."""
        if not client_id or len(client_id) > 64:
            return None
        cache = protocol_state().clients
        if client_id not in cache:
            model = tenant_client(current_tenant().id, client_id)
            cache[client_id] = grants.OAuthClient(model) if model is not None else None
        return cache[client_id]

    def save_token(self, token: dict[str, t.Any], request: OAuth2Request) -> None:
        grants.save_token(token, request)

    def validate_requested_scope(self, scope: str | None) -> None:
        """Scopes are checked per client (grants); a tenant has no global scope list."""

    def create_oauth2_request(self, request: t.Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        if isinstance(request, t.Mapping):
            return StoredAuthorizationRequest(request)
        # the request itself, not the proxy: authlib reads it dozens of times
        return FoyerFlaskRequest(flask_request._get_current_object())  # type: ignore[attr-defined]

    def authenticate_client(
        self, request: OAuth2Request, methods: list[str], endpoint: str = "token"
    ) -> grants.OAuthClient:
        try:
            return t.cast(
                grants.OAuthClient, super().authenticate_client(request, methods, endpoint)
            )
        except InvalidClientError:
            client_id, _secret = extract_basic_authorization(request.headers)
            client_id = client_id or request.payload.data.get("client_id") or ""
            record_event(
                "client_auth_failed",
                tenant=current_tenant(),
                client_id=str(client_id)[:64] or None,
                data={"endpoint": endpoint},
            )
            raise

    def send_signal(self, name: str, *args: t.Any, **kwargs: t.Any) -> None:
        """No blinker signals: events are recorded where things happen."""

    # -- what views ask ---------------------------------------------------------------------

    def validate_authorization(
        self, user: User | None, params: t.Mapping[str, str] | None = None
    ) -> t.Any:
        """Validate an authorization request (the current one, or stored ``params``) whose
        client and redirect_uri the caller has already checked.

        :raises OAuth2Error: with ``redirect_uri`` set when the error may go to the client.
        """
        data = params if params is not None else flask_request.values
        if data.get("response_type") != "code":
            # here, not in authlib: it quotes the value and fails on non-ASCII descriptions
            raise grants.CodeOnlyError(
                redirect_uri=data.get("redirect_uri"), state=data.get("state")
            )
        return self.get_consent_grant(request=params, end_user=user)

    def issue_code(
        self, grant: t.Any, user: User, sso: SsoSession, organization_id: str | None
    ) -> Response:
        """Issue a code for a request :meth:`validate_authorization` accepted in this same
        request: redirect to the client with code, state and iss.

        authlib's ``create_authorization_response`` would validate the request a second time
        (a tenth of an SSO authorize); this runs the rest of it: the code, the response and
        the response hooks (RFC 9207 ``iss``).
        """
        grant.request.sso = sso
        grant.request.organization_id = organization_id
        try:
            response = self.handle_response(
                *grant.create_authorization_response(grant.redirect_uri, user)
            )
        except OAuth2Error as error:
            error.state = grant.request.payload.state
            response = self.handle_error_response(grant.request, error)
        grant.execute_hook("after_authorization_response", response)
        self.execute_hook("after_create_authorization_response", response)
        return t.cast(Response, response)

    def authorization_error(self, error: OAuth2Error) -> Response:
        """The error response of an authorization request (a redirect to the client, with iss)."""
        response = t.cast(Response, self.handle_error_response(None, error))
        self.issuer_parameter.add_issuer_parameter(self, response)
        return response

    def userinfo_token(self) -> grants.UserAccessToken:
        """The request's valid bearer token with the ``openid`` scope.

        :raises OAuth2Error: ``invalid_token`` (401) or ``insufficient_scope`` (403).
        """
        # authlib reads nothing of the request but its Authorization header: it gets the
        # request itself, not a copy whose URL Werkzeug would build again
        request = flask_request._get_current_object()  # type: ignore[attr-defined]
        return t.cast(
            grants.UserAccessToken,
            self.resource_protector.validate_request(["openid"], request),
        )

    def error_response(self, error: OAuth2Error) -> Response:
        return t.cast(Response, self.handle_error_response(None, error))


def init_server(app: Flask) -> FoyerAuthorizationServer:
    server = FoyerAuthorizationServer()
    server.register_grant(
        grants.AuthorizationCodeGrant, [grants.PKCE(required=True), grants.OpenIDCode()]
    )
    server.register_grant(grants.RefreshTokenGrant, [grants.OpenIDRefresh()])
    server.register_grant(grants.ClientCredentialsGrant)
    server.register_endpoint(FoyerRevocationEndpoint)
    server.register_endpoint(FoyerIntrospectionEndpoint)
    server.register_endpoint(FoyerEndSessionEndpoint)
    server.register_extension(server.issuer_parameter)
    app.extensions["foyer.oidc.server"] = server
    return server


def oauth_server() -> FoyerAuthorizationServer:
    return t.cast(FoyerAuthorizationServer, current_app.extensions["foyer.oidc.server"])
