"""Secrets at rest (Fernet, rotatable) and hashes of bearer values stored in the database."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import typing as t
import zlib

from cryptography.fernet import Fernet
from cryptography.fernet import MultiFernet
from flask import current_app


def _fernet() -> MultiFernet:
    cached = current_app.extensions.get("foyer.fernet")
    if cached is None:
        keys = current_app.extensions["foyer.settings"].encryption_keys.split(",")
        cached = MultiFernet([Fernet(k.strip().encode()) for k in keys if k.strip()])
        current_app.extensions["foyer.fernet"] = cached
    return t.cast(MultiFernet, cached)


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def encrypt_json(value: dict[str, t.Any]) -> str:
    return encrypt(json.dumps(value, sort_keys=True))


def decrypt_json(token: str) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], json.loads(decrypt(token)))


def encrypt_large_json(value: t.Any) -> str:
    """Encrypt a large JSON value (an import's rows), compressed first."""
    return _fernet().encrypt(zlib.compress(json.dumps(value).encode(), 1)).decode()


def decrypt_large_json(token: str) -> t.Any:
    return json.loads(zlib.decompress(_fernet().decrypt(token.encode())))


def token_hash(value: str) -> str:
    """SHA-256 of a high-entropy bearer value (code, refresh token, reset link token).

    A plain hash suffices: the values are 256-bit random, so no dictionary attack applies.
    """
    return hashlib.sha256(value.encode()).hexdigest()


def keyed_hash(value: str, context: str) -> str:
    """HMAC-SHA-256 of a low-entropy value (a short emailed code) under the app's secret key.

    A plain hash of an 8-digit code is reversed by trying every code; without the key it
    cannot be. ``context`` binds it to one use (the row it is stored in).
    """
    key = current_app.extensions["foyer.settings"].secret_key.encode()
    return hmac.new(key, f"{context}:{value}".encode(), hashlib.sha256).hexdigest()


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
