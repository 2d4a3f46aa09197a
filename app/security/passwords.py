"""argon2id password hashing with rehash when parameters change.

Hashes are computed in the process's one argon2 block (``app.security.argon2_block``);
argon2-cffi parses parameters and verifies encodings that module leaves to it.
"""

from __future__ import annotations

import typing as t

from argon2 import PasswordHasher
from argon2 import exceptions as argon2_exceptions
from flask import current_app

from app.security import argon2_block


def hasher() -> PasswordHasher:
    """The app's hasher, built once from settings (OWASP: m=19 MiB, t=2, p=1)."""
    ph = current_app.extensions.get("foyer.hasher")
    if ph is None:
        s = current_app.extensions["foyer.settings"]
        ph = PasswordHasher(
            time_cost=s.argon2_time_cost,
            memory_cost=s.argon2_memory_cost,
            parallelism=s.argon2_parallelism,
        )
        current_app.extensions["foyer.hasher"] = ph
        argon2_block.set_memory_limit(s.argon2_memory_cost)
    return t.cast(PasswordHasher, ph)


def hash_password(password: str) -> str:
    ph = hasher()
    return argon2_block.hash_password(
        password, time_cost=ph.time_cost, memory_cost=ph.memory_cost, parallelism=ph.parallelism
    )


def _verify(ph: PasswordHasher, password_hash: str, password: str) -> bool:
    """One verification in the process's block (argon2-cffi's for encodings it leaves)."""
    try:
        return argon2_block.verify_password(password_hash, password)
    except argon2_block.Unparsed:
        pass
    except ValueError:
        return False
    with argon2_block.one_at_a_time:
        try:
            return ph.verify(password_hash, password)
        except (argon2_exceptions.VerificationError, argon2_exceptions.InvalidHashError):
            return False


def verify_password(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """Check a password; returns (ok, new_hash) where new_hash is set when a rehash is due.

    With no stored hash a dummy verification still runs, so timing does not reveal whether
    the account exists.
    """
    ph = hasher()
    if not password_hash:
        _dummy_verify(ph, password)
        return False, None
    if not _verify(ph, password_hash, password):
        return False, None
    if ph.check_needs_rehash(password_hash):
        return True, hash_password(password)
    return True, None


def dummy_verify(password: str) -> None:
    """Spend the time of one verification (unknown user path)."""
    _dummy_verify(hasher(), password)


def _dummy_verify(ph: PasswordHasher, password: str) -> None:
    dummy = current_app.extensions.get("foyer.dummy_hash")
    if dummy is None:
        dummy = hash_password("not a real password")
        current_app.extensions["foyer.dummy_hash"] = dummy
    _verify(ph, dummy, password)
