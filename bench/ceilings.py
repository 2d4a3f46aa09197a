"""Physical limits on this machine: one argon2id verification and one JWT signature.

A password sign-in cannot beat one argon2id verification, and a token response cannot beat
the signatures it carries; timing them here, in one thread, gives each scenario its ceiling
per core. The same code and parameters as Foyer's are used (its argon2id in one kept
memory block with the default settings, joserfc with RSA-2048 and P-256 keys).
"""

from __future__ import annotations

import dataclasses
import time
import typing as t

from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey

from app.config import Settings
from app.security import argon2_block


@dataclasses.dataclass(frozen=True)
class Ceilings:
    argon2_seconds: float
    """One argon2id verification (m, t, p from Foyer's default settings)."""
    argon2_params: str
    rs256_seconds: float
    """One RS256 JWT signature (RSA-2048), claims encoding included."""
    es256_seconds: float

    def per_second(self, seconds: float) -> float:
        return 1 / seconds if seconds else 0.0

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "argon2id_verify_ms": round(self.argon2_seconds * 1000, 3),
            "argon2id_verifications_per_core_s": round(self.per_second(self.argon2_seconds), 1),
            "argon2id_params": self.argon2_params,
            "rs256_sign_ms": round(self.rs256_seconds * 1000, 4),
            "rs256_signatures_per_core_s": round(self.per_second(self.rs256_seconds), 1),
            "es256_sign_ms": round(self.es256_seconds * 1000, 4),
            "es256_signatures_per_core_s": round(self.per_second(self.es256_seconds), 1),
        }


def _best_of(repeat: int, number: int, call: t.Callable[[], object]) -> float:
    """CPU seconds per call (like the servers' figures): the best of ``repeat`` rounds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(number):
            call()
        best = min(best, (time.process_time() - started) / number)
    return best


def measure(quick: bool = False) -> Ceilings:
    defaults = Settings()
    argon2_block.set_memory_limit(defaults.argon2_memory_cost)
    password = "correct horse battery staple"
    stored = argon2_block.hash_password(
        password,
        time_cost=defaults.argon2_time_cost,
        memory_cost=defaults.argon2_memory_cost,
        parallelism=defaults.argon2_parallelism,
    )
    argon2 = _best_of(3, 5 if quick else 20, lambda: argon2_block.verify_password(stored, password))

    claims = {
        "iss": "https://login.example.com",
        "sub": "0123456789abcdef0123456789abcdef",
        "aud": "client-abc",
        "exp": 2_000_000_000,
        "iat": 1_700_000_000,
        "scope": "openid profile email",
        "jti": "x" * 22,
    }
    rsa = RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"}, auto_kid=True)
    ec = ECKey.generate_key("P-256", parameters={"alg": "ES256", "use": "sig"}, auto_kid=True)
    number = 50 if quick else 300

    def sign(key: t.Any, alg: str) -> t.Callable[[], str]:
        header = {"alg": alg, "kid": key.kid, "typ": "JWT"}
        return lambda: jwt.encode(header, claims, key, algorithms=[alg])

    return Ceilings(
        argon2_seconds=argon2,
        argon2_params=(
            f"m={defaults.argon2_memory_cost // 1024} MiB, t={defaults.argon2_time_cost}, "
            f"p={defaults.argon2_parallelism}"
        ),
        rs256_seconds=_best_of(3, number, sign(rsa, "RS256")),
        es256_seconds=_best_of(3, number, sign(ec, "ES256")),
    )
