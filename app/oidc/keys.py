"""Per-tenant signing keys: life cycle, encrypted storage and a per-process cache.

Each tenant has, per algorithm, a ``current`` key that signs, a ``next`` key published ahead
of time (relying parties that cached the JWKS already know it when it starts signing) and,
after a rotation, a ``previous`` key that still verifies the tokens it signed. Keys are
created on first need; private JWKs are encrypted at rest (``app.security.crypto``).

``/oauth/token`` and the JWKS are hot paths, so parsed keys are cached per process and the
cache is re-validated against a cheap version query at most every ``FOYER_CACHE_SECONDS``
(the trust window of every per-process copy of database rows, :mod:`app.rowcache`), so
rotations by another process or host show up within that delay.

Key rows are written in their own database session and committed at once, so creating a
key never commits (or waits on) the caller's unit of work.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
import typing as t

import sqlalchemy as sa
from flask import Flask
from flask import current_app
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey
from joserfc.jwk import import_key
from sqlalchemy.orm import Session

from app.clients.models import Client
from app.db import get_database
from app.db import utcnow
from app.oidc.models import SigningKey
from app.security.crypto import decrypt_json
from app.security.crypto import encrypt_json

if t.TYPE_CHECKING:
    from joserfc.jwk import Key

ALGORITHMS: tuple[str, ...] = ("RS256", "ES256")
"""Signing algorithms a tenant may use (the JWS allow-list for every token we verify)."""
DEFAULT_ALG = "RS256"
PUBLISHED_STATES = ("next", "current", "previous")
RSA_KEY_SIZE = 2048


class KeyRotationTooSoon(Exception):
    """Retiring the previous key now would break tokens it signed that are still valid."""


@dataclasses.dataclass(frozen=True)
class Signer:
    """A ``current`` private key, parsed once per key ring, that signs compact JWTs with
    the header ``{"typ", "alg", "kid"}``."""

    alg: str
    key: Key

    @property
    def kid(self) -> str:
        return t.cast(str, self.key.kid)

    def sign(self, claims: dict[str, t.Any], typ: str) -> str:
        """The compact JWS of ``claims`` (JSON-serializable; times as integers)."""
        header = {"typ": typ, "alg": self.alg, "kid": self.kid}
        return jwt.encode(header, claims, self.key, algorithms=[self.alg])


@dataclasses.dataclass(frozen=True)
class KeyRing:
    """A tenant's parsed keys: what signs, what verifies, and the published JWKS."""

    version: tuple[t.Any, ...]
    signing: dict[str, Signer]
    """alg -> the private ``current`` key, ready to sign."""
    public_keyset: KeySet
    """Every published public key (next, current, previous): verifies our own tokens."""
    jwks_json: bytes
    """The JWKS document, serialized once."""

    def signer(self, alg: str) -> Signer | None:
        return self.signing.get(alg)


class KeyCache:
    """Parsed key rings per tenant, kept in ``app.extensions['foyer.oidc.keys']``, each
    trusted for ``ttl`` seconds before its version is checked again."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._rings: dict[str, tuple[KeyRing, float]] = {}
        self._lock = threading.Lock()
        self.generation = 0
        """Changes whenever a tenant's ring is replaced or dropped (copies of the JWKS
        made from the old one are stale: :mod:`app.oidc.well_known`)."""

    def get(self, tenant_id: str) -> tuple[KeyRing, float] | None:
        return self._rings.get(tenant_id)

    def put(self, tenant_id: str, ring: KeyRing) -> None:
        with self._lock:
            old = self._rings.get(tenant_id)
            if old is None or old[0] is not ring:
                self.generation += 1
            self._rings[tenant_id] = (ring, time.monotonic())

    def invalidate(self, tenant_id: str) -> None:
        with self._lock:
            self._rings.pop(tenant_id, None)
            self.generation += 1


def init_keys(app: Flask) -> None:
    app.extensions["foyer.oidc.keys"] = KeyCache(
        float(app.extensions["foyer.settings"].cache_seconds)
    )


def _cache() -> KeyCache:
    return t.cast(KeyCache, current_app.extensions["foyer.oidc.keys"])


def _db() -> Session:
    """A session of its own: key writes commit at once, whatever the request is doing."""
    return get_database().sessionmaker()


def _version(s: Session, tenant_id: str) -> tuple[t.Any, ...]:
    row = s.execute(
        sa.select(
            sa.func.count(SigningKey.id),
            sa.func.max(SigningKey.created_at),
            sa.func.max(SigningKey.rotated_at),
        ).where(SigningKey.tenant_id == tenant_id)
    ).one()
    return tuple(row)


def _load(s: Session, tenant_id: str, version: tuple[t.Any, ...]) -> KeyRing:
    rows = s.scalars(
        sa.select(SigningKey)
        .where(SigningKey.tenant_id == tenant_id, SigningKey.state.in_(PUBLISHED_STATES))
        .order_by(SigningKey.created_at)
    ).all()
    signing: dict[str, Signer] = {}
    public: list[dict[str, t.Any]] = []
    for row in rows:
        public.append(dict(row.public_jwk))
        if row.state == "current":
            # ordered by creation: the newest current key of an algorithm signs
            key = import_key(decrypt_json(row.private_jwk_encrypted))
            signing[row.alg] = Signer(row.alg, key)
    jwks = {"keys": public}
    return KeyRing(
        version=version,
        signing=signing,
        public_keyset=KeySet([import_key(jwk) for jwk in public]),
        jwks_json=json.dumps(jwks, separators=(",", ":")).encode(),
    )


def keyring(tenant_id: str) -> KeyRing:
    """The tenant's keys, from the cache when its version was checked recently."""
    cache = _cache()
    cached = cache.get(tenant_id)
    if cached is not None and time.monotonic() - cached[1] < cache.ttl:
        return cached[0]
    with _db() as s:
        version = _version(s, tenant_id)
        if cached is not None and cached[0].version == version:
            cache.put(tenant_id, cached[0])  # still current: trust it again
            return cached[0]
        ring = _load(s, tenant_id, version)
    cache.put(tenant_id, ring)
    return ring


def trusted_until(tenant_id: str) -> float:
    """When the cached ring of the tenant is checked again (``time.monotonic()``): what
    is derived from it may be kept until then."""
    cached = _cache().get(tenant_id)
    return cached[1] + _cache().ttl if cached is not None else time.monotonic()


def signer(tenant_id: str, alg: str = DEFAULT_ALG) -> Signer:
    """What signs for ``alg``, its key created (with its ``next``) on first need."""
    found = keyring(tenant_id).signer(alg)
    if found is None:
        ensure_keys(tenant_id, (alg,))
        found = keyring(tenant_id).signer(alg)
    if found is None:  # pragma: no cover - ensure_keys just wrote it
        raise LookupError(f"no {alg} signing key for tenant {tenant_id}")
    return found


def ensure_keys(tenant_id: str, algs: t.Iterable[str] = (DEFAULT_ALG,)) -> None:
    """Create a ``current`` and a ``next`` key for each algorithm that has none.

    Call it before a request writes anything when it may need a new key (SQLite allows one
    writer: a key written from a second session would wait for the request's own write).
    """
    wanted = {alg for alg in algs if alg in ALGORITHMS}
    ring = keyring(tenant_id)
    missing = {alg for alg in wanted if ring.signer(alg) is None}
    if not missing:
        return
    with _db() as s:
        present = set(
            s.scalars(
                sa.select(SigningKey.alg).where(
                    SigningKey.tenant_id == tenant_id, SigningKey.state == "current"
                )
            )
        )
        for alg in sorted(missing - present):
            s.add(_new_key(tenant_id, alg, "current"))
            s.add(_new_key(tenant_id, alg, "next"))
        s.commit()
    _cache().invalidate(tenant_id)


def stage_keys(s: Session, tenant_id: str, algs: t.Iterable[str] = (DEFAULT_ALG,)) -> bool:
    """Add a ``current`` and a ``next`` key for each algorithm that has none to ``s``,
    uncommitted: the caller's transaction keeps them or drops them with everything else
    (``foyer apply``). Call :func:`forget_keys` after the commit. Returns whether any
    was added."""
    present = set(
        s.scalars(
            sa.select(SigningKey.alg).where(
                SigningKey.tenant_id == tenant_id, SigningKey.state == "current"
            )
        )
    )
    missing = sorted({alg for alg in algs if alg in ALGORITHMS} - present)
    for alg in missing:
        s.add(_new_key(tenant_id, alg, "current"))
        s.add(_new_key(tenant_id, alg, "next"))
    return bool(missing)


def forget_keys(tenant_id: str) -> None:
    """Drop this process's copy of a tenant's keys (they changed in the database)."""
    _cache().invalidate(tenant_id)


def _generate(alg: str) -> Key:
    parameters: t.Any = {"alg": alg, "use": "sig"}
    if alg == "RS256":
        return RSAKey.generate_key(RSA_KEY_SIZE, parameters=parameters, auto_kid=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=parameters, auto_kid=True)
    raise ValueError(f"unsupported signing algorithm {alg!r}")


def _new_key(tenant_id: str, alg: str, state: str) -> SigningKey:
    key = _generate(alg)
    return SigningKey(
        tenant_id=tenant_id,
        kid=key.kid,  # RFC 7638 thumbprint: unique and stable across backups
        alg=alg,
        state=state,
        private_jwk_encrypted=encrypt_json(key.as_dict(private=True)),
        public_jwk=key.as_dict(private=False),
        created_at=utcnow(),
    )


def longest_token_lifetime(tenant_id: str) -> int:
    """Seconds a token signed by a tenant key may stay valid (settings and client overrides)."""
    settings = current_app.extensions["foyer.settings"]
    longest = max(settings.access_token_lifetime, settings.id_token_lifetime)
    with _db() as s:
        for client_settings in s.scalars(
            sa.select(Client.settings).where(Client.tenant_id == tenant_id)
        ):
            value = (client_settings or {}).get("access_token_lifetime")
            if isinstance(value, int):
                longest = max(longest, value)
    return int(longest)


def rotate_keys(tenant_id: str, *, force: bool = False) -> list[SigningKey]:
    """Rotate every algorithm of the tenant: next -> current -> previous -> retired.

    A fresh ``next`` key is made. The JWKS keeps publishing the old current key (now
    previous), so tokens it signed keep verifying until they expire.

    :param force: Retire the previous key even if tokens it signed may still be valid.
    :raises KeyRotationTooSoon: when a previous key became previous less than the longest
        token lifetime ago.
    :returns: The keys that now sign (one per algorithm).
    """
    ensure_keys(tenant_id)  # a tenant that never signed anything gets keys to rotate
    now = utcnow()
    grace = dt.timedelta(seconds=longest_token_lifetime(tenant_id))
    with _db() as s:
        rows = s.scalars(
            sa.select(SigningKey)
            .where(SigningKey.tenant_id == tenant_id, SigningKey.state != "retired")
            .order_by(SigningKey.created_at)
        ).all()
        if not force:
            for row in rows:
                if row.state == "previous" and row.rotated_at and now - row.rotated_at < grace:
                    raise KeyRotationTooSoon(
                        f"the previous {row.alg} key may still verify valid tokens until "
                        f"{(row.rotated_at + grace).isoformat(timespec='seconds')}"
                    )
        signing: list[SigningKey] = []
        for alg in sorted({row.alg for row in rows}):
            of_alg = [row for row in rows if row.alg == alg]
            promoted = None
            for row in of_alg:
                if row.state == "previous":
                    row.state, row.rotated_at = "retired", now
                elif row.state == "current":
                    row.state, row.rotated_at = "previous", now
                elif row.state == "next" and promoted is None:
                    row.state, row.rotated_at = "current", now
                    promoted = row
            if promoted is None:  # a next key was missing: make the new current at once
                promoted = _new_key(tenant_id, alg, "current")
                s.add(promoted)
            s.add(_new_key(tenant_id, alg, "next"))
            signing.append(promoted)
        s.commit()
    _cache().invalidate(tenant_id)
    return signing


def list_keys(tenant_id: str) -> list[SigningKey]:
    """Every key of the tenant, newest first (for the CLI and admin views)."""
    with _db() as s:
        return list(
            s.scalars(
                sa.select(SigningKey)
                .where(SigningKey.tenant_id == tenant_id)
                .order_by(SigningKey.created_at.desc())
            )
        )
