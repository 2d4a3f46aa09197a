"""argon2id parameters against OWASP's minimum, and one verification timed on this machine."""

from __future__ import annotations

import time

from argon2 import PasswordHasher

from app.config import Settings
from app.doctor.findings import Finding

OWASP_MEMORY_KIB = {1: 47104, 2: 19456, 3: 12288, 4: 9216, 5: 7168}
"""OWASP's argon2id configurations (memory in KiB for each iteration count); any one of
them is the minimum, more iterations buy a smaller memory."""
TOO_FAST_SECONDS = 0.010
TOO_SLOW_SECONDS = 1.0


def owasp_memory_minimum(time_cost: int) -> int:
    return OWASP_MEMORY_KIB[min(max(time_cost, 1), 5)]


def password_findings(settings: Settings, production: bool) -> list[Finding]:
    """Below OWASP's minimum (an error in production), then a verification's cost here."""
    findings = []
    minimum = owasp_memory_minimum(settings.argon2_time_cost)
    if settings.argon2_memory_cost < minimum:
        findings.append(
            Finding(
                "error" if production else "info",
                "passwords.below_owasp",
                f"argon2id m={settings.argon2_memory_cost} KiB, t={settings.argon2_time_cost} "
                f"is below OWASP's minimum (m={minimum} KiB at t={settings.argon2_time_cost}; "
                "the default m=19456, t=2, p=1)",
                "password-hashing",
            )
        )
    seconds = verification_seconds(settings)
    if seconds > TOO_SLOW_SECONDS:
        findings.append(
            Finding(
                "warning",
                "passwords.slow",
                f"one password verification takes {seconds * 1000:.0f} ms here: sign-ins "
                "queue up and a burst of them ties up every worker; lower the memory or "
                "iterations (not below OWASP's minimum) or give the machine more CPU",
                "password-hashing",
            )
        )
    elif seconds < TOO_FAST_SECONDS:
        findings.append(
            Finding(
                "info",
                "passwords.fast",
                f"one password verification takes {seconds * 1000:.1f} ms here: this "
                "machine can afford more argon2 memory or iterations",
                "password-hashing",
            )
        )
    return findings


def verification_seconds(settings: Settings) -> float:
    """The fastest of three verifications with the configured parameters."""
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost,
        parallelism=settings.argon2_parallelism,
    )
    stored = hasher.hash("doctor-timing-password")
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        hasher.verify(stored, "doctor-timing-password")
        best = min(best, time.perf_counter() - started)
    return best
