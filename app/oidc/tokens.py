"""Codes, token families, refresh tokens and the JWTs Foyer issues (no OAuth plumbing here).

- Authorization codes and refresh tokens are random bearer values stored as SHA-256 hashes;
  each is single use, claimed with a conditional UPDATE so two concurrent redemptions cannot
  both win.
- A :class:`~app.oidc.models.TokenGrant` is the family of tokens from one authorization:
  revoking it (code re-use, refresh token re-use, revocation) stops its access tokens at
  userinfo and its refresh tokens at once.
- Access tokens are JWTs (RFC 9068, ``typ: at+jwt``) signed with the tenant's current key;
  a user's tokens carry ``grant_id`` so a revoked family is noticed where tokens are checked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import typing as t

import sqlalchemy as sa
from authlib.oidc.core.util import create_half_hash
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from app.accounts.models import User
from app.clients.models import Client
from app.db import core_execute
from app.db import new_id
from app.db import session
from app.db import utcnow
from app.login.assurance import acr_of
from app.oidc import keys
from app.oidc.claims import extra_claims
from app.oidc.models import AuthorizationCode
from app.oidc.models import RefreshToken
from app.oidc.models import TokenGrant
from app.security.crypto import new_token
from app.security.crypto import token_hash

if t.TYPE_CHECKING:
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

ID_TOKEN_TYPE = "JWT"
ACCESS_TOKEN_TYPE = "at+jwt"
LOGOUT_TOKEN_TYPE = "logout+jwt"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_LIFETIME = 120
"""Seconds a logout token is valid: each delivery attempt signs it afresh."""


def _settings() -> t.Any:
    return current_app.extensions["foyer.settings"]


def _seconds(value: dt.datetime) -> int:
    return int(value.timestamp())


# --- Authorization codes ---------------------------------------------------------------------


def create_code(
    value: str,
    *,
    tenant_id: str,
    client_id: str,
    user_id: str,
    redirect_uri: str,
    scope: str,
    nonce: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
    auth_time: dt.datetime,
    amr: list[str],
    acr: str,
    organization_id: str | None,
    sso_session_id: str | None,
    issuer: str,
) -> None:
    """Store a new code (hashed), valid ``code_lifetime`` seconds, in the request's
    transaction (nothing reads it back in this request)."""
    now = utcnow()
    core_execute(
        INSERT_CODE,
        dict(
            id=new_id(),
            tenant_id=tenant_id,
            code_hash=token_hash(value),
            client_id=client_id,
            user_id=user_id,
            redirect_uri=redirect_uri,
            scope=scope,
            nonce=nonce,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method if code_challenge else None,
            auth_time=auth_time,
            amr=list(amr),
            acr=acr,
            extra_claims={},
            organization_id=organization_id,
            sso_session_id=sso_session_id,
            issuer=issuer,
            expires_at=now + dt.timedelta(seconds=_settings().code_lifetime),
            used_at=None,
            grant_id=None,
            created_at=now,
        ),
    )


# The statements of the code, token and refresh paths are built once (composing one costs
# more than running it) and run with Core (:func:`~app.db.core_execute`).
CODES = t.cast(sa.Table, AuthorizationCode.__table__)
GRANTS = t.cast(sa.Table, TokenGrant.__table__)
REFRESH_TOKENS = t.cast(sa.Table, RefreshToken.__table__)
INSERT_CODE = CODES.insert()
CODE_BY_HASH = CODES.select().where(CODES.c.code_hash == sa.bindparam("code_hash"))
CLAIM_CODE = (
    CODES.update()
    .where(
        CODES.c.code_hash == sa.bindparam("hash"),
        CODES.c.used_at.is_(None),
        CODES.c.tenant_id == sa.bindparam("tenant"),
        CODES.c.client_id == sa.bindparam("client"),
        CODES.c.expires_at > sa.bindparam("now"),
    )
    .values(used_at=sa.bindparam("now"), grant_id=sa.bindparam("new_grant_id"))
    .returning(*CODES.columns)
)
INSERT_GRANT = GRANTS.insert()
INSERT_REFRESH_TOKEN = REFRESH_TOKENS.insert()
REFRESH_TOKEN_BY_HASH = REFRESH_TOKENS.select().where(
    REFRESH_TOKENS.c.token_hash == sa.bindparam("hash")
)


class StoredRefreshToken(t.NamedTuple):
    """A refresh token as read with its family (the columns of ``refresh_token``)."""

    id: str
    grant_id: str
    token_hash: str
    scope: str
    expires_at: dt.datetime
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_at: dt.datetime


CLAIM_REFRESH_TOKEN = (
    REFRESH_TOKENS.update()
    .where(REFRESH_TOKENS.c.id == sa.bindparam("token_id"), REFRESH_TOKENS.c.used_at.is_(None))
    .values(used_at=sa.bindparam("now"))
)

StoredRow = sa.Row[t.Any]
"""A code, refresh token or token family as read: its table's columns as attributes,
read-only (the token endpoint only reads them; building model objects from them cost as
much as the query)."""
Family = t.Union["FamilyRow", StoredRow]
"""A token family: one a code starts or one read with its refresh token or user
(:class:`FamilyRow`), or one read alone (:func:`find_grant`)."""


def find_code(value: str) -> StoredRow | None:
    return core_execute(CODE_BY_HASH, {"code_hash": token_hash(value)}).first()


def claim_code(value: str, *, tenant_id: str, client_id: str, grant_id: str) -> StoredRow | None:
    """Mark the code used by the family ``grant_id`` it starts, and read it, in one UPDATE:
    only an unused, unexpired code of this tenant issued to this client. None for any
    other (:func:`find_code` tells which), or when another request used it first.

    The claim is part of the request's transaction: a token request that fails after it
    rolls it back, and the code stays as it was.
    """
    params = {
        "hash": token_hash(value),
        "tenant": tenant_id,
        "client": client_id,
        "now": utcnow(),
        "new_grant_id": grant_id,
    }
    return core_execute(CLAIM_CODE, params).first()


# --- Token families --------------------------------------------------------------------------


class FamilyRow(t.NamedTuple):
    """A family as written when it starts, or as read with a refresh token (the columns
    of ``token_grant``)."""

    id: str
    tenant_id: str
    client_id: str
    user_id: str
    scope: str
    organization_id: str | None
    sso_session_id: str | None
    auth_time: dt.datetime
    amr: list[str]
    acr: str | None
    issuer: str
    extra_claims: dict[str, t.Any]
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_reason: str | None
    created_at: dt.datetime


def start_grant(code: StoredRow) -> FamilyRow:
    """The family of tokens issued from a code (its id chosen when the code was claimed);
    it ends ``refresh_token_lifetime`` from now. Written with Core in the request's
    transaction."""
    now = utcnow()
    grant = FamilyRow(
        id=code.grant_id,
        tenant_id=code.tenant_id,
        client_id=code.client_id,
        user_id=code.user_id,
        scope=code.scope,
        organization_id=code.organization_id,
        sso_session_id=code.sso_session_id,
        auth_time=code.auth_time,
        amr=list(code.amr),
        acr=code.acr,
        issuer=code.issuer,
        extra_claims={},
        expires_at=now + dt.timedelta(seconds=_settings().refresh_token_lifetime),
        revoked_at=None,
        revoked_reason=None,
        created_at=now,
    )
    core_execute(INSERT_GRANT, grant._asdict())
    return grant


def find_grant(grant_id: str) -> StoredRow | None:
    """The family as read (its row: revocation and introspection only read it)."""
    return core_execute(GRANT_BY_ID, {"grant_id": grant_id}).first()


GRANT_BY_ID = GRANTS.select().where(GRANTS.c.id == sa.bindparam("grant_id"))


def find_grant_and_user(grant_id: str) -> tuple[FamilyRow, User | None] | None:
    """The family and its user, read in one statement (userinfo needs both)."""
    row = session.execute(GRANT_AND_USER_BY_ID, {"grant_id": grant_id}).first()
    if row is None:
        return None
    return FamilyRow(*row[1:]), row[0]


def grant_is_active(grant: Family) -> bool:
    return grant.revoked_at is None and grant.expires_at > utcnow()


def revoke_grant(grant_id: str, reason: str) -> None:
    """Revoke a family: its refresh tokens fail and its access tokens stop at userinfo."""
    now = utcnow()
    session.execute(
        sa.update(TokenGrant)
        .where(TokenGrant.id == grant_id, TokenGrant.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.grant_id == grant_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


# --- Refresh tokens --------------------------------------------------------------------------


def create_refresh_token(value: str, grant: Family, scope: str) -> None:
    """Store a new refresh token of the family (hashed); it never outlives the family."""
    core_execute(
        INSERT_REFRESH_TOKEN,
        dict(
            id=new_id(),
            grant_id=grant.id,
            token_hash=token_hash(value),
            scope=scope,
            expires_at=grant.expires_at,
            used_at=None,
            revoked_at=None,
            created_at=utcnow(),
        ),
    )


def find_refresh_token(value: str) -> StoredRow | None:
    return core_execute(REFRESH_TOKEN_BY_HASH, {"hash": token_hash(value)}).first()


class RefreshTokenFamilyAndUser(t.NamedTuple):
    """What the refresh grant reads in one statement (the user is None if deleted)."""

    token: StoredRefreshToken
    family: FamilyRow
    user: User | None


def find_refresh_token_family_and_user(value: str) -> RefreshTokenFamilyAndUser | None:
    """The refresh token, its family and the family's user, read in one statement (the
    refresh grant needs all three)."""
    row = session.execute(REFRESH_TOKEN_FAMILY_AND_USER, {"hash": token_hash(value)}).first()
    if row is None:
        return None
    width = len(FamilyRow._fields)
    return RefreshTokenFamilyAndUser(
        StoredRefreshToken(*row[1 + width :]), FamilyRow(*row[1 : 1 + width]), row[0]
    )


def claim_refresh_token(token: StoredRefreshToken) -> bool:
    """Mark the refresh token rotated; False when another request rotated it first."""
    result = core_execute(CLAIM_REFRESH_TOKEN, {"token_id": token.id, "now": utcnow()})
    return result.rowcount == 1


# --- Access tokens ---------------------------------------------------------------------------


def access_token_lifetime(client: Client) -> int:
    value = (client.settings or {}).get("access_token_lifetime")
    if isinstance(value, int) and value > 0:
        return value
    return int(_settings().access_token_lifetime)


def client_audiences(client: Client) -> list[str]:
    """Audiences the client may ask for; the first is its default (space-separated field)."""
    return (client.audience or "").split()


def create_access_token(
    *,
    tenant: Tenant,
    issuer: str,
    client: Client,
    scope: str,
    audience: str | list[str],
    user: User | None = None,
    grant: Family | None = None,
    organization: Organization | None = None,
) -> tuple[str, int]:
    """Sign an RFC 9068 access token; returns (token, expires_in).

    A user's token never outlives its family (``grant.expires_at``).
    """
    now = int(time.time())
    lifetime = access_token_lifetime(client)
    if grant is not None:
        lifetime = max(0, min(lifetime, _seconds(grant.expires_at) - now))
    claims: dict[str, t.Any] = {}
    if user is not None:
        claims.update(
            extra_claims(
                "access_token",
                user=user,
                tenant=tenant,
                organization=organization,
                client=client,
                scopes=scope.split(),
            )
        )
    claims.update(
        {
            "iss": issuer,
            "sub": user.id if user is not None else client.client_id,
            "aud": audience,
            "exp": now + lifetime,
            "iat": now,
            "jti": new_token(16),
            "client_id": client.client_id,
            "scope": scope,
        }
    )
    if grant is not None:
        claims["grant_id"] = grant.id
    return keys.signer(tenant.id, keys.DEFAULT_ALG).sign(claims, ACCESS_TOKEN_TYPE), lifetime


@dataclasses.dataclass
class AccessToken:
    """A verified access token of this tenant (signature, type and expiry checked)."""

    claims: dict[str, t.Any]

    @property
    def grant_id(self) -> str | None:
        value = self.claims.get("grant_id")
        return value if isinstance(value, str) else None

    @property
    def scopes(self) -> list[str]:
        scope = self.claims.get("scope")
        return scope.split() if isinstance(scope, str) else []

    @property
    def expired(self) -> bool:
        exp = self.claims.get("exp")
        return not isinstance(exp, int) or exp <= int(time.time())


ACCESS_TOKEN_CLAIMS = JWTClaimsRegistry(
    iss={"essential": True}, sub={"essential": True}, client_id={"essential": True}
)
"""Built once: a registry keeps only its options (the time is read at each check)."""


def decode_access_token(value: str, tenant: Tenant) -> AccessToken | None:
    """Verify a token's signature (tenant keys, alg allow-list) and type; None if invalid.

    Expiry is left to the caller (revocation accepts expired tokens).
    """
    try:
        token = jwt.decode(value, keys.keyring(tenant.id).public_keyset, algorithms=keys.ALGORITHMS)
    except (JoseError, ValueError, TypeError):
        return None
    if token.header.get("typ") != ACCESS_TOKEN_TYPE:
        return None  # an ID token is not an access token
    try:
        ACCESS_TOKEN_CLAIMS.validate(token.claims)
    except JoseError:
        return None
    return AccessToken(claims=dict(token.claims))


# --- ID tokens -------------------------------------------------------------------------------


def client_alg(client: Client) -> str:
    """The algorithm of the client's ID (and logout) tokens; the default if unknown."""
    alg = client.id_token_signed_response_alg or keys.DEFAULT_ALG
    return alg if alg in keys.ALGORITHMS else keys.DEFAULT_ALG


def create_id_token(
    *,
    tenant: Tenant,
    client: Client,
    user: User,
    grant: Family,
    scope: str,
    access_token: str | None,
    nonce: str | None,
    sid: str | None,
    organization: Organization | None,
) -> str:
    """Sign an ID token with the client's algorithm (``id_token_signed_response_alg``)."""
    alg = client_alg(client)
    now = int(time.time())
    claims = extra_claims(
        "id_token",
        user=user,
        tenant=tenant,
        organization=organization,
        client=client,
        scopes=scope.split(),
    )
    claims.update(
        {
            "iss": grant.issuer,
            "sub": user.id,
            "aud": client.client_id,
            "azp": client.client_id,
            "exp": now + int(_settings().id_token_lifetime),
            "iat": now,
            "auth_time": _seconds(grant.auth_time),
            "acr": grant.acr or acr_of(grant.amr),
        }
    )
    if grant.amr:
        claims["amr"] = list(grant.amr)
    if nonce:
        claims["nonce"] = nonce
    if sid:
        claims["sid"] = sid
    if access_token:
        at_hash = create_half_hash(access_token, alg)
        if at_hash is not None:
            claims["at_hash"] = at_hash.decode("ascii")
    return keys.signer(tenant.id, alg).sign(claims, ID_TOKEN_TYPE)


# --- Logout tokens ---------------------------------------------------------------------------


def create_logout_token(
    *, tenant_id: str, client: Client, issuer: str, subject: str, sid: str, jti: str
) -> str:
    """Sign a Back-Channel Logout 1.0 logout token (§2.4) with the client's ID token
    algorithm: ``typ: logout+jwt``, one ``events`` member, ``sub`` and ``sid``, a ``jti``,
    a short ``exp`` and never a ``nonce``."""
    alg = client_alg(client)
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": client.client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_LIFETIME,
        "jti": jti,
        "sub": subject,
        "sid": sid,
        "events": {LOGOUT_EVENT: {}},
    }
    return keys.signer(tenant_id, alg).sign(claims, LOGOUT_TOKEN_TYPE)


def find_user(user_id: str) -> User | None:
    return session.scalar(USER_BY_ID, {"user_id": user_id})


USER_BY_ID = sa.select(User).where(User.id == sa.bindparam("user_id"))
"""Prebuilt: a third cheaper than ``session.get``, which composes its SELECT every time."""


REFRESH_TOKEN_FAMILY_AND_USER = (
    sa.select(
        User,
        *(GRANTS.c[name].label(f"family_{name}") for name in FamilyRow._fields),
        *(REFRESH_TOKENS.c[name].label(f"token_{name}") for name in StoredRefreshToken._fields),
    )
    .select_from(REFRESH_TOKENS)
    .join(GRANTS, REFRESH_TOKENS.c.grant_id == GRANTS.c.id)
    .outerjoin(User, User.id == GRANTS.c.user_id)
    .where(REFRESH_TOKENS.c.token_hash == sa.bindparam("hash"))
)
"""Prebuilt like :data:`USER_BY_ID`; run through the session, which keeps the user."""
GRANT_AND_USER_BY_ID = (
    sa.select(User, *(GRANTS.c[name].label(f"family_{name}") for name in FamilyRow._fields))
    .select_from(GRANTS)
    .outerjoin(User, User.id == GRANTS.c.user_id)
    .where(GRANTS.c.id == sa.bindparam("grant_id"))
)
