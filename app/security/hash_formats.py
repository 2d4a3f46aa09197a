"""Password hashes imported from another system, verified once and then replaced by argon2id.

``foyer users migrate``, ``foyer users import`` and the management API's imports keep a
user's old hash when Foyer can check it, stored as ``legacy:<scheme>:<hash>`` in
``User.password_hash``. The prefix keeps such a hash apart from Foyer's own: argon2 never
accepts it, and the first successful sign-in replaces it with an argon2id hash of the same
password (the ``database`` and ``legacy`` strategies both do).

Supported schemes, in the formats other systems usually export:

- ``bcrypt``: the modular crypt string (``$2b$12$...``; ``$2a$`` and ``$2y$`` too).
- ``pbkdf2_sha256``: ``<iterations>$<salt>$<base64 sha256 digest>`` (Django's layout,
  which Django itself prefixes with ``pbkdf2_sha256$``).
- ``scrypt``: ``scrypt:<N>:<r>:<p>$<salt>$<hex digest>`` (Werkzeug's layout, 64 bytes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import bcrypt

PREFIX = "legacy:"
BCRYPT = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")
SCHEMES = ("bcrypt", "pbkdf2_sha256", "scrypt")
MAX_SCRYPT_COST = 2**20
"""Largest scrypt N accepted from imported data (memory is 128 * N * r bytes)."""
MAX_PBKDF2_ITERATIONS = 5_000_000
"""Refuse absurd iteration counts from imported data rather than burn a worker on them."""
BCRYPT_MAX_BYTES = 72
"""bcrypt only ever read the first 72 bytes; the legacy system hashed just those."""


def import_hash(scheme: str, value: str) -> str:
    """The string to store in ``User.password_hash`` for a legacy hash.

    :raises ValueError: for a scheme Foyer cannot check, or a malformed hash.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unsupported legacy hash scheme {scheme!r}")
    if scheme == "bcrypt" and not BCRYPT.fullmatch(value):
        raise ValueError("not a bcrypt hash ($2b$<cost>$<53 characters>)")
    if scheme == "pbkdf2_sha256":
        _parse_pbkdf2(value)
    if scheme == "scrypt":
        _parse_scrypt(value)
    return f"{PREFIX}{scheme}:{value}"


def recognize(value: str) -> str:
    """The ``password_hash`` to store for a hash in any supported format: an argon2id hash
    as it is, any other as ``legacy:<scheme>:<hash>``.

    :raises ValueError: for a format Foyer cannot check.
    """
    if value.startswith("$argon2id$"):
        return value
    if value.startswith(("$2a$", "$2b$", "$2y$")):
        return import_hash("bcrypt", value)
    if value.startswith("pbkdf2_sha256$"):
        return import_hash("pbkdf2_sha256", value.removeprefix("pbkdf2_sha256$"))
    if value.startswith("scrypt:"):
        return import_hash("scrypt", value)
    raise ValueError(
        "password_hash must be argon2id, bcrypt, Django's pbkdf2_sha256 or Werkzeug's scrypt"
    )


def is_legacy_hash(stored: str | None) -> bool:
    return bool(stored) and str(stored).startswith(PREFIX)


def verify_legacy_hash(stored: str, password: str) -> bool:
    """Check ``password`` against a stored ``legacy:<scheme>:<hash>``; False when malformed."""
    if not is_legacy_hash(stored):
        return False
    scheme, _, value = stored[len(PREFIX) :].partition(":")
    try:
        return verify_hash(scheme, value, password)
    except ValueError:
        return False


def verify_hash(scheme: str, value: str, password: str) -> bool:
    """Check a password against a hash in one of :data:`SCHEMES` (constant-time compare).

    :raises ValueError: for an unknown scheme or a malformed hash.
    """
    if scheme == "bcrypt":
        secret = password.encode("utf-8")[:BCRYPT_MAX_BYTES]
        return bcrypt.checkpw(secret, value.encode("ascii"))
    if scheme == "pbkdf2_sha256":
        iterations, salt, expected = _parse_pbkdf2(value)
        digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode(), iterations)
        return hmac.compare_digest(base64.b64encode(digest).decode("ascii"), expected)
    if scheme == "scrypt":
        n, r, p, salt, expected = _parse_scrypt(value)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt.encode(),
            n=n,
            r=r,
            p=p,
            maxmem=132 * n * r + 1024 * 1024,
            dklen=64,
        )
        return hmac.compare_digest(digest.hex(), expected)
    raise ValueError(f"unsupported legacy hash scheme {scheme!r}")


def scrypt_hash(password: str, salt: str, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    """Make a ``scrypt`` hash in Werkzeug's layout (tests, benchmarks, example stores)."""
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt.encode(),
        n=n,
        r=r,
        p=p,
        maxmem=132 * n * r + 1024 * 1024,
        dklen=64,
    )
    return f"scrypt:{n}:{r}:{p}${salt}${digest.hex()}"


def _parse_scrypt(value: str) -> tuple[int, int, int, str, str]:
    method, _, rest = value.partition("$")
    salt, _, expected = rest.partition("$")
    parts = method.split(":")
    if len(parts) != 4 or parts[0] != "scrypt" or not all(x.isdigit() for x in parts[1:]):
        raise ValueError("not a scrypt hash (scrypt:<N>:<r>:<p>$<salt>$<hex digest>)")
    n, r, p = (int(x) for x in parts[1:])
    if not salt or len(expected) != 128:
        raise ValueError("not a scrypt hash (scrypt:<N>:<r>:<p>$<salt>$<hex digest>)")
    if n < 2 or n & (n - 1) or n > MAX_SCRYPT_COST or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError("scrypt parameters out of range")
    return n, r, p, salt, expected


def pbkdf2_sha256(password: str, salt: str, iterations: int) -> str:
    """Make a ``pbkdf2_sha256`` hash in the supported layout (tests and example stores)."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode(), iterations)
    return f"{iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


def _parse_pbkdf2(value: str) -> tuple[int, str, str]:
    parts = value.split("$")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1] or not parts[2]:
        raise ValueError("not a pbkdf2_sha256 hash (<iterations>$<salt>$<digest>)")
    iterations = int(parts[0])
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise ValueError("pbkdf2_sha256 iteration count out of range")
    return iterations, parts[1], parts[2]
