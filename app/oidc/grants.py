"""Authlib glue: the model adapters and the grants (code + PKCE + OpenID, refresh, client).

Authlib drives the protocol (parameter checks, client authentication, PKCE, error
responses); these subclasses answer its questions from Foyer's models and services
(:mod:`app.oidc.tokens`). Values Foyer needs along the way ride on authlib's request
object: ``sso`` (the SSO session), ``organization_id``, ``token_grant``, ``audience``.
"""

from __future__ import annotations

import typing as t

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidGrantError
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749 import InvalidScopeError
from authlib.oauth2.rfc6749 import UnsupportedResponseTypeError
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import grants as oidc_grants

from app.clients.services import check_client_secret
from app.db import new_id
from app.db import session
from app.db import utcnow
from app.events.record import record_event
from app.login.assurance import acr_of
from app.oidc import tokens
from app.oidc.claims import IDENTITY_SCOPES
from app.oidc.state import IssuedTokens
from app.oidc.state import protocol_state
from app.orgs.models import Organization
from app.security.crypto import new_token
from app.sessions.models import SsoSession
from app.tenancy.resolve import current_tenant
from app.tenancy.resolve import request_issuer

if t.TYPE_CHECKING:
    from authlib.oauth2.rfc6749 import OAuth2Request

    from app.accounts.models import User
    from app.clients.models import Client
    from app.orgs.models import Organization

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
MAX_BYTES = {
    "state": 1024,
    "nonce": 512,
    "login_hint": 320,
    "ui_locales": 64,
    "acr_values": 255,
    "organization": 100,
    "connection": 100,
    "max_age": 10,
    "scope": 1024,
    "prompt": 64,
    "code_challenge": 128,
    "code_challenge_method": 16,
    "response_type": 64,
}
"""Caps on request values, in UTF-8 bytes (they are stored with the sign-in and logged)."""


def oversized_parameter(params: t.Mapping[str, str]) -> str | None:
    """The name of the first parameter longer than its cap, or None."""
    for name, limit in MAX_BYTES.items():
        value = params.get(name)
        if value is not None and len(value.encode("utf-8", "surrogatepass")) > limit:
            return name
    return None


class RequestNotSupportedError(OAuth2Error):  # type: ignore[misc]
    error = "request_not_supported"


class RequestUriNotSupportedError(OAuth2Error):  # type: ignore[misc]
    error = "request_uri_not_supported"


class RegistrationNotSupportedError(OAuth2Error):  # type: ignore[misc]
    error = "registration_not_supported"


class CodeOnlyError(UnsupportedResponseTypeError):  # type: ignore[misc]
    """Any response_type but ``code`` (never quoted back: it is whatever the caller sent)."""

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__("code", description="Only response_type=code is supported.", **kwargs)


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707: the requested audience is not one the client may ask for."""

    error = "invalid_target"


# --- Adapters: what authlib asks of clients, codes and tokens --------------------------------


class OAuthClient:
    """A registered client as authlib sees it (``model`` is the database row)."""

    def __init__(self, model: Client) -> None:
        self.model = model

    @property
    def client_id(self) -> str:
        return self.model.client_id

    @property
    def id_token_signed_response_alg(self) -> str:
        return self.model.id_token_signed_response_alg

    @property
    def client_metadata(self) -> dict[str, t.Any]:
        return {"post_logout_redirect_uris": list(self.model.post_logout_redirect_uris or [])}

    @property
    def is_public(self) -> bool:
        return self.model.is_public

    def get_client_id(self) -> str:
        return self.model.client_id

    def get_default_redirect_uri(self) -> None:
        """Never: every authorization request must name its redirect_uri."""
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scopes, or None (``invalid_scope``) if any is not the client's."""
        requested = _unique((scope or "").split())
        if not requested:
            return None
        allowed = set(self.model.scope.split())
        if any(s not in allowed for s in requested):
            return None
        return " ".join(requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string comparison with a registered URI (RFC 9700 §2.1)."""
        return "#" not in redirect_uri and redirect_uri in (self.model.redirect_uris or [])

    def check_client_secret(self, client_secret: str) -> bool:
        return check_client_secret(self.model, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.model.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.check_grant_type("authorization_code")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.model.grant_types or [])


class IssuedCode:
    """A stored authorization code as authlib sees it."""

    def __init__(self, model: tokens.StoredRow) -> None:
        self.model = model

    @property
    def code_challenge(self) -> str | None:
        return self.model.code_challenge

    @property
    def code_challenge_method(self) -> str | None:
        return self.model.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.model.redirect_uri

    def get_scope(self) -> str:
        return self.model.scope

    def get_nonce(self) -> str | None:
        return self.model.nonce

    def get_auth_time(self) -> int:
        return int(self.model.auth_time.timestamp())

    def get_acr(self) -> str | None:
        return self.model.acr

    def get_amr(self) -> list[str]:
        return list(self.model.amr)


class IssuedRefreshToken:
    """A stored refresh token (and its family) as authlib sees it."""

    def __init__(
        self, model: tokens.StoredRefreshToken, grant: tokens.Family, user: User | None
    ) -> None:
        self.model = model
        self.grant = grant
        self.user = user

    def check_client(self, client: OAuthClient) -> bool:
        return self.grant.client_id == client.client_id

    def get_scope(self) -> str:
        return self.model.scope


def _unique(values: t.Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


# --- Issuing tokens (shared by the three grants) ---------------------------------------------


def _organization(request: OAuth2Request, grant: tokens.Family) -> Organization | None:

    if not hasattr(request, "organization"):
        request.organization = (
            session.get(Organization, grant.organization_id) if grant.organization_id else None
        )
    return t.cast("Organization | None", request.organization)


def user_token_audience(client: Client, issuer: str, scope: str) -> str | list[str]:
    """The client's API audience; with ``openid`` the issuer too, so userinfo accepts it."""
    audiences = tokens.client_audiences(client)
    if not audiences:
        return issuer
    if "openid" in scope.split():
        return [audiences[0], issuer]
    return audiences[0]


class IssuesTokens:
    """Replaces authlib's token generator: Foyer's tokens need the request's context."""

    request: OAuth2Request

    def generate_token(
        self,
        user: User | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, t.Any]:
        request = self.request
        client = t.cast(OAuthClient, request.client).model
        tenant = current_tenant()
        scope = scope or ""
        grant: tokens.Family | None = getattr(request, "token_grant", None)
        if grant is not None and user is not None:
            access_token, lifetime = tokens.create_access_token(
                tenant=tenant,
                issuer=grant.issuer,
                client=client,
                scope=scope,
                audience=user_token_audience(client, grant.issuer, scope),
                user=user,
                grant=grant,
                organization=_organization(request, grant),
            )
        else:
            access_token, lifetime = tokens.create_access_token(
                tenant=tenant,
                issuer=request_issuer(),
                client=client,
                scope=scope,
                audience=request.audience,
            )
        token: dict[str, t.Any] = {
            "token_type": "Bearer",
            "access_token": access_token,
            "expires_in": lifetime,
            "scope": scope,
        }
        # a refresh token only for offline_access, and rotated on every use
        if include_refresh_token and grant is not None and "offline_access" in grant.scope.split():
            token["refresh_token"] = new_token(32)
        protocol_state().issued = (
            IssuedTokens(  # the token_issued event, once the response is final
                client.client_id,
                user.id if user is not None else None,
                grant.id if grant is not None else None,
            )
        )
        return token


def save_token(token: dict[str, t.Any], request: OAuth2Request) -> None:
    """Store the refresh token of a user's token response (access tokens are not stored)."""
    grant: tokens.Family | None = getattr(request, "token_grant", None)
    if grant is not None and "refresh_token" in token:
        tokens.create_refresh_token(token["refresh_token"], grant, grant.scope)


# --- Authorization code grant ----------------------------------------------------------------


def validate_extra_parameters(request: OAuth2Request) -> None:
    """Checks authlib leaves to us: prompt, max_age, response_mode, request objects (sizes
    are checked first, by the authorization endpoint: :func:`oversized_parameter`)."""
    data = request.payload.data
    if data.get("request"):
        raise RequestNotSupportedError("Request objects are not supported.")
    if data.get("request_uri"):
        raise RequestUriNotSupportedError("request_uri is not supported.")
    if data.get("registration"):
        raise RegistrationNotSupportedError("registration is not supported.")
    if data.get("response_mode") not in (None, "", "query"):
        raise InvalidRequestError("Only response_mode=query is supported.")
    max_age = data.get("max_age")
    if max_age not in (None, "") and not max_age.isdigit():
        raise InvalidRequestError("'max_age' must be a number of seconds.")
    prompts = (data.get("prompt") or "").split()
    if any(p not in PROMPTS for p in prompts):
        raise InvalidRequestError("Unsupported 'prompt' value.")
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("'prompt=none' cannot be combined with other values.")


class PKCE(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only, required of every client but a confidential one registered
    with ``require_pkce: false`` (OAuth 2.1, RFC 9700 §2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: t.Any, redirect_uri: str | None) -> None:
        data = grant.request.payload.data
        challenge = data.get("code_challenge")
        if not challenge and grant.request.client.model.requires_pkce:
            raise InvalidRequestError("PKCE is required: send code_challenge (S256).")
        if challenge and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: t.Any, result: t.Any) -> None:
        """A client that must use PKCE never redeems a code without a challenge (one issued
        before its registration changed)."""
        code = grant.request.authorization_code
        if not code.code_challenge and grant.request.client.model.requires_pkce:
            raise InvalidGrantError("This code was issued without PKCE.")
        super().validate_code_verifier(grant, result)


class AuthorizationCodeGrant(IssuesTokens, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_authorization_request(self) -> str:
        redirect_uri = t.cast(str, super().validate_authorization_request())
        try:
            validate_extra_parameters(self.request)
        except OAuth2Error as error:
            error.redirect_uri = redirect_uri
            raise
        return redirect_uri

    def generate_authorization_code(self) -> str:
        return new_token(32)

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        sso: SsoSession = request.sso
        data = request.payload.data
        tokens.create_code(
            code,
            tenant_id=sso.tenant_id,
            client_id=request.client.client_id,
            user_id=request.user.id,
            redirect_uri=data["redirect_uri"],
            scope=request.scope,
            nonce=data.get("nonce") or None,
            code_challenge=data.get("code_challenge") or None,
            code_challenge_method=data.get("code_challenge_method") or None,
            auth_time=sso.auth_time,
            amr=list(sso.amr or []),
            acr=acr_of(sso.amr or [], data.get("acr_values")),
            organization_id=request.organization_id,
            sso_session_id=sso.id,
            issuer=request_issuer(),
        )

    def query_authorization_code(self, code: str, client: OAuthClient) -> IssuedCode | None:
        """Claim the code for this request's new family (:func:`tokens.claim_code`); a
        code not claimed is looked up to tell a re-used one from an unknown one."""
        tenant_id = current_tenant().id
        claimed = tokens.claim_code(
            code, tenant_id=tenant_id, client_id=client.client_id, grant_id=new_id()
        )
        if claimed is not None:
            return IssuedCode(claimed)
        row = tokens.find_code(code)
        if row is not None and row.tenant_id == tenant_id and row.used_at is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what it issued
            if row.grant_id:
                tokens.revoke_grant(row.grant_id, "code_reused")
            session.commit()
            record_event(
                "code_reused",
                tenant_id=row.tenant_id,
                user_id=row.user_id,
                client_id=client.client_id,
                data={"grant_id": row.grant_id},
            )
        return None  # unknown, another tenant's or client's, or expired

    def authenticate_user(self, authorization_code: IssuedCode) -> User:
        user = tokens.find_user(authorization_code.model.user_id)
        if user is None or user.blocked:
            raise InvalidGrantError("The user of this code cannot sign in.")
        self.request.token_grant = tokens.start_grant(authorization_code.model)
        return user

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        """Nothing left to do: the code was claimed when it was read."""


# --- Refresh token grant ---------------------------------------------------------------------


class RefreshTokenGrant(IssuesTokens, grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedRefreshToken | None:
        found = tokens.find_refresh_token_family_and_user(refresh_token)
        if found is None:
            return None
        row, grant, user = found
        if grant.tenant_id != current_tenant().id:
            return None
        if row.used_at is not None:
            self._revoke_family(grant)
            return None
        if row.revoked_at is not None or row.expires_at <= utcnow():
            return None
        if not tokens.grant_is_active(grant):
            return None
        return IssuedRefreshToken(row, grant, user)

    def authenticate_user(self, refresh_token: IssuedRefreshToken) -> User:
        user = refresh_token.user  # read with the token
        if user is None or user.blocked:
            raise InvalidGrantError("The user of this token cannot sign in.")
        self.request.token_grant = refresh_token.grant
        return user

    def revoke_old_credential(self, refresh_token: IssuedRefreshToken) -> None:
        if not tokens.claim_refresh_token(refresh_token.model):
            session.rollback()  # drop the new refresh token of this losing request
            self._revoke_family(refresh_token.grant)
            raise InvalidGrantError("Invalid 'refresh_token' in request.")

    def _revoke_family(self, grant: tokens.Family) -> None:
        """A rotated refresh token came back: someone holds a copy, so end the family."""
        tokens.revoke_grant(grant.id, "refresh_token_reused")
        session.commit()
        record_event(
            "refresh_token_reused",
            tenant_id=grant.tenant_id,
            user_id=grant.user_id,
            client_id=grant.client_id,
            data={"grant_id": grant.id},
        )


# --- Client credentials grant ----------------------------------------------------------------


def machine_scope(client: Client, requested: str | None) -> str:
    """Scopes of a machine token: those asked for (all the client's when none are)."""
    allowed = [s for s in _unique(client.scope.split()) if s not in IDENTITY_SCOPES]
    if not requested:
        return " ".join(allowed)
    wanted = _unique(requested.split())
    if any(s not in allowed for s in wanted):
        raise InvalidScopeError()
    return " ".join(wanted)


def machine_audience(client: Client, requested: str | None, issuer: str) -> str:
    audiences = tokens.client_audiences(client)
    if requested:
        if requested not in audiences:
            raise InvalidTargetError("This client may not ask for that audience.")
        return requested
    return audiences[0] if audiences else issuer


class ClientCredentialsGrant(IssuesTokens, grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client = t.cast(OAuthClient, self.request.client).model
        self.request.scope = machine_scope(client, self.request.payload.scope)
        self.request.audience = machine_audience(
            client, self.request.payload.data.get("audience"), request_issuer()
        )

    def create_token_response(self) -> tuple[int, dict[str, t.Any], list[tuple[str, str]]]:
        token = self.generate_token(scope=self.request.scope, include_refresh_token=False)
        return 200, token, self.TOKEN_RESPONSE_HEADER


# --- OpenID Connect: ID tokens ---------------------------------------------------------------


class IssuesIDTokens:
    """Foyer's ID token (claims, per-client algorithm, tenant key) for authlib's extensions."""

    def encode_id_token(self, token: dict[str, t.Any], request: OAuth2Request) -> str:
        grant: tokens.Family = request.token_grant
        code: IssuedCode | None = request.authorization_code
        return tokens.create_id_token(
            tenant=current_tenant(),
            client=t.cast(OAuthClient, request.client).model,
            user=request.user,
            grant=grant,
            scope=token["scope"],
            access_token=token.get("access_token"),
            nonce=code.get_nonce() if code is not None else None,
            sid=grant.sso_session_id,
            organization=_organization(request, grant),
        )


class OpenIDCode(IssuesIDTokens, oidc_grants.OpenIDCode):  # type: ignore[misc]
    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        """Nonce replay is checked by the relying party, which keeps the nonce it sent; the
        provider only binds it to the code and echoes it in the ID token."""
        return False


class OpenIDRefresh(IssuesIDTokens, oidc_grants.OpenIDToken):  # type: ignore[misc]
    """A fresh ID token on refresh (OpenID Connect Core §12.2), without ``nonce``."""


# --- Bearer tokens (userinfo) ----------------------------------------------------------------


class UserAccessToken:
    """A verified access token of a user, with its family, as authlib's validator sees it."""

    def __init__(
        self, token: tokens.AccessToken, grant: tokens.Family | None, user: User | None
    ) -> None:
        self.token = token
        self.grant = grant
        self.user = user
        """The family's user, read with it."""

    @property
    def claims(self) -> dict[str, t.Any]:
        return self.token.claims

    def get_scope(self) -> str:
        return " ".join(self.token.scopes)

    def is_expired(self) -> bool:
        return self.token.expired

    def is_revoked(self) -> bool:
        return self.grant is None or not tokens.grant_is_active(self.grant)


class AccessTokenValidator(BearerTokenValidator):  # type: ignore[misc]
    """Accepts the tenant's user access tokens whose family is still active."""

    def authenticate_token(self, token_string: str) -> UserAccessToken | None:
        token = tokens.decode_access_token(token_string, current_tenant())
        if token is None or token.grant_id is None:
            return None  # not ours, or a machine token: no user behind it
        audience = token.claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if token.claims.get("iss") not in audiences:
            return None  # meant for an API, not for the provider's own endpoints
        found = tokens.find_grant_and_user(token.grant_id)
        if found is None or found[0].tenant_id != current_tenant().id:
            return UserAccessToken(token, None, None)
        return UserAccessToken(token, *found)
