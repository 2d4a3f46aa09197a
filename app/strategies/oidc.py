"""The builtin ``oidc`` strategy: sign in at the customer's own OpenID Connect provider.

The browser goes to the IdP with the authorization code flow, PKCE (S256), a ``state``
naming the Foyer sign-in and a ``nonce``, both kept server-side in the login transaction;
``prompt=login``, ``max_age`` and ``login_hint`` of the application are passed on. The IdP
answers at Foyer's callback URL (:mod:`app.login.federated`), where :meth:`finish_login`
exchanges the code (client authentication ``client_secret_basic``, ``client_secret_post``
or ``private_key_jwt``), validates the ID token (signature against the IdP's keys, ``iss``,
``aud``, ``azp``, ``exp``/``iat`` with :data:`LEEWAY`, ``nonce``, ``auth_time`` when
``max_age`` was asked), reads userinfo when the connection says so (its ``sub`` must be the
token's), and maps the claims to a profile. Every upstream call has the connection's
timeout. Options: :mod:`app.strategies.oidc_options`; caches:
:mod:`app.strategies.oidc_metadata`.
"""

from __future__ import annotations

import secrets
import time
import typing as t
import uuid
from urllib.parse import urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import errors as jose_errors
from joserfc import jws
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey
from joserfc.jwt import JWTClaimsRegistry

from app.connections.strategies import AuthResult
from app.connections.strategies import Diagnosis
from app.connections.strategies import UpstreamAnswer
from app.connections.strategies import UpstreamError
from app.connections.strategies import UpstreamLogin
from app.connections.strategies import UpstreamProfile
from app.connections.strategies import new_state
from app.hookspecs import hookimpl
from app.observability.metrics import timed_upstream
from app.security.outbound import OutboundRefused
from app.security.outbound import check_url
from app.strategies import oidc_diagnose
from app.strategies import oidc_logout
from app.strategies import oidc_metadata
from app.strategies.oidc_options import SIGNING_ALGORITHMS
from app.strategies.oidc_options import OidcOptions
from app.strategies.oidc_options import OptionsError
from app.strategies.oidc_options import check_secrets
from app.strategies.oidc_options import parse_options

if t.TYPE_CHECKING:
    from joserfc.jwk import KeySet

    from app.accounts.models import User
    from app.connections.models import Connection
    from app.connections.strategies import ConnectionStrategy

LEEWAY = 60
"""Seconds of clock difference tolerated on ``exp``, ``iat`` and ``auth_time``."""
DENIED = {
    "access_denied",
    "login_required",
    "consent_required",
    "interaction_required",
    "account_selection_required",
}
"""Upstream error codes meaning the user (or the IdP's policy) did not sign in."""
UNAVAILABLE = {"server_error", "temporarily_unavailable"}
TOKEN_CHECKS = {
    "exp": "expired",
    "iat": "issued in the future",
    "nbf": "not valid yet",
}


class OidcStrategy:
    """``strategy: oidc``: an upstream OpenID Connect provider."""

    name: t.ClassVar[str] = "oidc"
    kind: t.ClassVar[str] = "redirect"

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @staticmethod
    def check_options(
        options: t.Mapping[str, t.Any], secrets: t.Mapping[str, t.Any] | None
    ) -> list[tuple[str, str]]:
        """Every problem of a connection's options (and, when given, secrets)."""
        try:
            parsed = parse_options(options)
        except OptionsError as exc:
            return exc.problems
        return check_secrets(parsed.auth_method, secrets) if secrets is not None else []

    @property
    def options(self) -> OidcOptions:
        try:
            return parse_options(self.connection.options)
        except OptionsError as exc:
            raise UpstreamError("upstream_misconfigured", str(exc)) from exc

    # -- password methods: an upstream IdP keeps its own passwords ---------------------------

    def authenticate(self, identifier: str, password: str) -> AuthResult:
        return AuthResult(None)

    def find_user(self, identifier: str) -> User | None:
        return None

    def set_password(self, user: User, password: str) -> None:
        raise NotImplementedError("an upstream identity provider keeps its own passwords")

    # -- the round trip --------------------------------------------------------------------

    def metadata(self, options: OidcOptions) -> dict[str, t.Any]:
        """The endpoints: the explicit ones, completed by the (cached) discovery document."""
        explicit = options.endpoints
        needed = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if all(key in explicit for key in needed) and (
            not options.userinfo or "userinfo_endpoint" in explicit
        ):
            return {"issuer": options.issuer, **explicit}
        document = self.discovery(options)
        merged = {**document, **explicit}
        for key in needed:
            if not isinstance(merged.get(key), str):
                raise UpstreamError("upstream_misconfigured", f"discovery has no {key}")
        if options.userinfo and not isinstance(merged.get("userinfo_endpoint"), str):
            raise UpstreamError("upstream_misconfigured", "userinfo asked, none published")
        return merged

    def start_login(self, login: UpstreamLogin) -> str:
        options = self.options
        metadata = self.metadata(options)
        verifier = secrets.token_urlsafe(48)
        state = new_state(login.transaction_id)
        nonce = secrets.token_urlsafe(24)
        prompt = list(options.prompt)
        if login.force_login and "login" not in prompt:
            prompt.append("login")
        params: dict[str, str] = {
            "response_type": "code",
            "client_id": options.client_id,
            "redirect_uri": login.callback_url,
            "scope": options.scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if prompt:
            params["prompt"] = " ".join(prompt)
        if login.max_age is not None:
            params["max_age"] = str(login.max_age)
        if login.login_hint and options.login_hint:
            params["login_hint"] = login.login_hint
        if login.locale:
            params["ui_locales"] = login.locale
        login.saved.update(
            state=state,
            nonce=nonce,
            verifier=verifier,
            max_age=login.max_age,
            started_at=int(time.time()),
        )
        endpoint = str(metadata["authorization_endpoint"])
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    def finish_login(self, answer: UpstreamAnswer) -> UpstreamProfile:
        options = self.options
        params = answer.params
        error = params.get("error")
        if error:
            code = (
                "access_denied"
                if error in DENIED
                else "upstream_unavailable"
                if error in UNAVAILABLE
                else "upstream_misconfigured"
            )
            description = params.get("error_description", "")[:300]
            raise UpstreamError(code, f"{error[:100]}: {description}".rstrip(": "))
        metadata = self.metadata(options)
        returned_issuer = params.get("iss")
        if returned_issuer is not None and not self.issuer_matches(
            options, metadata, returned_issuer
        ):
            raise UpstreamError("invalid_response", "iss of the answer is another issuer's")
        if returned_issuer is None and metadata.get(
            "authorization_response_iss_parameter_supported"
        ):
            raise UpstreamError("invalid_response", "the answer carries no iss")
        code = params.get("code")
        if not code:
            raise UpstreamError("invalid_response", "no code in the answer")
        tokens = self.exchange(options, metadata, code, answer)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise UpstreamError("invalid_response", "the token response has no id_token")
        claims = self.validate_id_token(options, metadata, id_token, answer.saved)
        if options.userinfo:
            access_token = tokens.get("access_token")
            if not isinstance(access_token, str):
                raise UpstreamError("invalid_response", "no access_token for userinfo")
            userinfo = oidc_metadata.get_json(
                str(metadata["userinfo_endpoint"]),
                options.timeout,
                headers={"Authorization": f"Bearer {access_token}"},
                what="userinfo",
                strategy=self.name,
            )
            if "error" in userinfo or userinfo.get("sub") != claims["sub"]:
                raise UpstreamError("invalid_response", "userinfo is not the token's subject")
            claims = {**userinfo, **claims}
        return self.profile(options, claims, id_token, tokens)

    # -- what presets (app.strategies.social) change ---------------------------------------

    def discovery(self, options: OidcOptions) -> dict[str, t.Any]:
        """The IdP's (cached) discovery document."""
        return oidc_metadata.discovery(
            options.issuer, options.discovery_ttl, options.timeout, strategy=self.name
        )

    def issuer_matches(
        self, options: OidcOptions, metadata: t.Mapping[str, t.Any], issuer: str
    ) -> bool:
        """Whether ``issuer`` (the answer's ``iss``) is this connection's IdP."""
        return issuer == options.issuer

    def token_issuer(
        self, options: OidcOptions, metadata: t.Mapping[str, t.Any], id_token: str
    ) -> str:
        """The ``iss`` the ID token must carry."""
        return options.issuer

    def profile(
        self,
        options: OidcOptions,
        claims: dict[str, t.Any],
        id_token: str,
        tokens: t.Mapping[str, t.Any],
    ) -> UpstreamProfile:
        """The profile of the checked claims."""
        return map_profile(options, claims, id_token)

    def diagnose(self) -> list[Diagnosis]:
        """What ``foyer connections test`` prints and checks for this connection."""
        return oidc_diagnose.diagnose(self, LEEWAY)

    def logout_url(self, logout: t.Mapping[str, t.Any], return_to: str, state: str) -> str | None:
        """The IdP's RP-initiated logout URL (its ``end_session_endpoint``) when the
        connection's ``upstream_logout`` is on and the IdP publishes one, else None."""
        return oidc_logout.logout_url(self, logout, return_to, state)

    def exchange(
        self,
        options: OidcOptions,
        metadata: t.Mapping[str, t.Any],
        code: str,
        answer: UpstreamAnswer,
    ) -> dict[str, t.Any]:
        """The token request, authenticated the way the connection is registered."""
        import requests  # memory: 5 MiB, loaded by the first outbound call

        endpoint = str(metadata["token_endpoint"])
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": answer.callback_url,
            "code_verifier": str(answer.saved.get("verifier", "")),
        }
        keys = self.connection.get_secrets()
        auth: tuple[str, str] | None = None
        if options.auth_method == "client_secret_basic":
            auth = (
                requests.utils.quote(options.client_id, safe=""),
                requests.utils.quote(str(keys.get("client_secret", "")), safe=""),
            )
        elif options.auth_method == "client_secret_post":
            form.update(client_id=options.client_id, client_secret=str(keys.get("client_secret")))
        else:
            form.update(
                client_id=options.client_id,
                client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                client_assertion=client_assertion(options, endpoint, keys.get("private_key")),
            )
        try:
            check_url(endpoint)
        except OutboundRefused as exc:
            raise UpstreamError("upstream_misconfigured", f"token {endpoint}: {exc}") from None
        with timed_upstream(self.name, "token") as timing:
            try:
                response = requests.post(
                    endpoint,
                    data=form,
                    auth=auth,
                    timeout=(options.timeout, options.timeout),
                    headers={
                        "Accept": "application/json",
                        "User-Agent": oidc_metadata.USER_AGENT,
                    },
                    allow_redirects=False,
                    stream=True,
                )
            except requests.RequestException as exc:
                raise UpstreamError("upstream_unavailable", f"token: {type(exc).__name__}") from exc
            if response.status_code >= 500:
                timing.failed()
            tokens = oidc_metadata.read_json(response, "token")
        if "error" in tokens:
            error = str(tokens["error"])[:100]
            kind = "invalid_response" if error == "invalid_grant" else "upstream_misconfigured"
            raise UpstreamError(kind, f"token: {error}")
        return tokens

    def validate_id_token(
        self,
        options: OidcOptions,
        metadata: t.Mapping[str, t.Any],
        id_token: str,
        saved: t.Mapping[str, t.Any],
    ) -> dict[str, t.Any]:
        """The ID token's claims, once every check passed."""
        algorithms = list(options.algorithms) or [
            alg
            for alg in metadata.get("id_token_signing_alg_values_supported", ["RS256"])
            if alg in SIGNING_ALGORITHMS
        ]
        try:
            header = jws.extract_compact(id_token.encode()).headers()
        except (jose_errors.JoseError, ValueError) as exc:
            raise UpstreamError("invalid_response", "the ID token is not a JWS") from exc
        jwks_uri = str(metadata["jwks_uri"])
        keys = oidc_metadata.key_set(
            jwks_uri, options.discovery_ttl, options.timeout, strategy=self.name
        )
        kid = header.get("kid")
        if kid is not None and kid not in {key.kid for key in keys.keys}:
            keys = oidc_metadata.key_set(
                jwks_uri,
                options.discovery_ttl,
                options.timeout,
                unknown_kid=True,
                strategy=self.name,
            )
        return check_id_token(
            id_token,
            keys,
            algorithms,
            issuer=self.token_issuer(options, metadata, id_token),
            client_id=options.client_id,
            nonce=str(saved.get("nonce") or ""),
            max_age=saved.get("max_age"),
        )


def check_id_token(
    id_token: str,
    keys: KeySet,
    algorithms: list[str],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    max_age: int | None = None,
    now: float | None = None,
) -> dict[str, t.Any]:
    """Validate an ID token (OpenID Connect Core 3.1.3.7) and return its claims.

    :raises UpstreamError: ``invalid_response`` naming the check that failed.
    """
    if not algorithms:
        raise UpstreamError("upstream_misconfigured", "no accepted ID token algorithm")
    try:
        token = jwt.decode(id_token, keys, algorithms=algorithms)
    except jose_errors.InvalidKeyIdError as exc:
        raise UpstreamError("invalid_response", "ID token signed with an unknown key") from exc
    except jose_errors.JoseError as exc:
        raise UpstreamError("invalid_response", f"ID token signature: {exc.error}") from exc
    except ValueError as exc:
        raise UpstreamError("invalid_response", "ID token cannot be read") from exc
    claims = dict(token.claims)
    registry = JWTClaimsRegistry(
        now=int(now) if now is not None else None,
        leeway=LEEWAY,
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce} if nonce else {"essential": True},
    )
    try:
        registry.validate(claims)
    except jose_errors.JoseError as exc:
        claim = getattr(exc, "claim", "")
        raise UpstreamError("invalid_response", f"ID token {claim}: {exc.error}") from exc
    if not nonce:
        raise UpstreamError("invalid_response", "no nonce saved for this sign-in")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    if (len(audiences) > 1 and azp is None) or (azp is not None and azp != client_id):
        raise UpstreamError("invalid_response", "ID token azp is not this client")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise UpstreamError("invalid_response", "ID token sub")
    if max_age is not None:
        auth_time = claims.get("auth_time")
        current = now if now is not None else time.time()
        if not isinstance(auth_time, int | float) or auth_time + max_age + LEEWAY < current:
            raise UpstreamError("invalid_response", "ID token auth_time older than max_age")
    return claims


def client_assertion(options: OidcOptions, audience: str, private_key: t.Any) -> str:
    """A ``private_key_jwt`` assertion (RFC 7523) signed with the connection's key."""
    if not private_key:
        raise UpstreamError("upstream_misconfigured", "private_key_jwt: no private key")
    try:
        loaded = serialization.load_pem_private_key(str(private_key).encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise UpstreamError("upstream_misconfigured", "private_key_jwt: not a PEM key") from exc
    if isinstance(loaded, rsa.RSAPrivateKey):
        key: RSAKey | ECKey = RSAKey.import_key(loaded)
        alg = "RS256"
    elif isinstance(loaded, ec.EllipticCurvePrivateKey) and loaded.curve.name == "secp256r1":
        key, alg = ECKey.import_key(loaded), "ES256"
    else:
        raise UpstreamError("upstream_misconfigured", "private_key_jwt: RSA or P-256 keys only")
    header = {"alg": alg, **({"kid": options.private_key_kid} if options.private_key_kid else {})}
    now = int(time.time())
    claims = {
        "iss": options.client_id,
        "sub": options.client_id,
        "aud": audience,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 60,
    }
    return jwt.encode(header, claims, key)


def claim(claims: t.Mapping[str, t.Any], path: str) -> t.Any:
    """A claim by name, or a dotted path into nested claims (``address.country``)."""
    if path in claims:
        return claims[path]
    value: t.Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def map_profile(options: OidcOptions, claims: dict[str, t.Any], id_token: str) -> UpstreamProfile:
    """The connection's mapping of upstream claims to Foyer's profile fields."""
    mapping = options.mapping

    def text(field: str) -> str | None:
        value = claim(claims, mapping[field]) if field in mapping else None
        return value if isinstance(value, str) and value else None

    verified = claim(claims, mapping["email_verified"]) if "email_verified" in mapping else None
    groups = claim(claims, mapping["groups"]) if "groups" in mapping else None
    if isinstance(groups, str):
        groups = [groups]
    amr = claims.get("amr")
    return UpstreamProfile(
        subject=str(claims["sub"]),
        email=text("email"),
        email_verified=verified is True or verified == "true" or options.assume_email_verified,
        name=text("name"),
        given_name=text("given_name"),
        family_name=text("family_name"),
        locale=text("locale"),
        groups=[str(g) for g in groups if isinstance(g, str | int)][:200]
        if isinstance(groups, list)
        else [],
        app_metadata={
            field: value
            for field, path in options.app_metadata.items()
            if (value := claim(claims, path)) is not None
        },
        amr=["fed", *[str(a) for a in amr if isinstance(a, str)][:10]]
        if isinstance(amr, list)
        else ["fed"],
        claims=claims,
        logout={"id_token_hint": id_token, "sid": claims.get("sid")},
    )


@hookimpl
def register_connection_strategies() -> list[type[ConnectionStrategy]]:
    return [OidcStrategy]
