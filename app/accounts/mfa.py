"""Two-step verification: TOTP authenticators (RFC 6238, via pyotp) and recovery codes.

A code is accepted for the current 30-second step or one step either side (clock drift),
and only once: the accepted step is stored with a conditional ``UPDATE`` so a replayed or
concurrently submitted code fails (L-15). Recovery codes are 80 random bits, stored as
SHA-256, each used once. Attempts are limited per user (``rate_limit_mfa``). The secret is
encrypted at rest like every other secret.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
import secrets
import time
import typing as t

import pyotp
import sqlalchemy as sa

from app.accounts.models import RecoveryCode
from app.accounts.models import TotpFactor
from app.db import session
from app.db import utcnow
from app.security.crypto import decrypt
from app.security.crypto import encrypt
from app.security.crypto import token_hash
from app.security.limits import hit

if t.TYPE_CHECKING:
    from app.accounts.models import User

INTERVAL = 30
DIGITS = 6
DRIFT_STEPS = 1
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
"""31 symbols without look-alikes (no 0/o, 1/l/i); 16 of them carry about 79 bits."""
RECOVERY_LENGTH = 16
TOTP_CODE = re.compile(r"^[0-9]{6}$")
"""ASCII digits only (``\\d`` would take other scripts' digits, which compare_digest refuses)."""
AMR = ["otp", "mfa"]
"""Added to ``pwd`` once the second step passed (RFC 8176)."""


class TooManyAttempts(Exception):
    """The user's code attempts are over the limit; wait before trying again."""


@dataclasses.dataclass(frozen=True)
class Enrollment:
    """A pending authenticator: what the setup page shows."""

    secret: str
    uri: str
    qr_data_uri: str


def totp_factor(user: User) -> TotpFactor | None:
    return session.scalar(sa.select(TotpFactor).where(TotpFactor.user_id == user.id))


def has_totp(user: User) -> bool:
    """Whether the user has a confirmed authenticator (then sign-in asks for a code).

    Every password sign-in asks: one column through a statement built once, not the
    factor's row loaded as an object."""
    return session.scalar(_CONFIRMED_AT, {"user_id": user.id}) is not None


_CONFIRMED_AT = sa.select(TotpFactor.confirmed_at).where(
    TotpFactor.user_id == sa.bindparam("user_id")
)


def start_enrollment(user: User, issuer: str) -> Enrollment:
    """The pending authenticator of the user, made on first call (not committed)."""
    factor = totp_factor(user)
    if factor is None:
        factor = TotpFactor(user_id=user.id, secret_encrypted=encrypt(pyotp.random_base32(32)))
        session.add(factor)
        session.flush()
    if factor.confirmed_at is not None:
        raise ValueError("the user already has an authenticator")
    secret = decrypt(factor.secret_encrypted)
    label = user.email or user.username or user.id
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(
        name=label, issuer_name=issuer[:64] or None
    )
    import segno  # memory: 1 MiB with xml.sax, only in a worker that enrolls an authenticator

    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return Enrollment(secret=secret, uri=uri, qr_data_uri=qr)


def confirm_enrollment(user: User, code: str) -> list[str] | None:
    """Confirm the pending authenticator with a code from it; returns fresh recovery codes
    (shown once), or None when the code is wrong. Not committed."""
    factor = totp_factor(user)
    if factor is None or factor.confirmed_at is not None:
        return None
    if not _accept_code(factor, code):
        return None
    factor.confirmed_at = utcnow()
    return new_recovery_codes(user)


def disable(user: User) -> None:
    """Remove the authenticator and recovery codes (the page asked for the password)."""
    session.execute(sa.delete(TotpFactor).where(TotpFactor.user_id == user.id))
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with ``RECOVERY_CODES`` new ones; returns them."""
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        code = "-".join(raw[i : i + 4] for i in range(0, RECOVERY_LENGTH, 4))
        session.add(RecoveryCode(user_id=user.id, code_hash=token_hash(_normalize(code))))
        codes.append(code)
    session.flush()
    return codes


def recovery_codes_left(user: User) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count(RecoveryCode.id)).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


def verify(user: User, code: str) -> str | None:
    """Check a sign-in code: ``"totp"`` or ``"recovery"`` when accepted (and used up),
    None when wrong. Not committed (the caller commits with the sign-in).

    :raises TooManyAttempts: when the user is over ``rate_limit_mfa``.
    """
    count_attempt(user)
    factor = totp_factor(user)
    if factor is None or factor.confirmed_at is None:
        return None
    cleaned = "".join(code.split())
    if TOTP_CODE.match(cleaned):
        return "totp" if _accept_code(factor, cleaned) else None
    return "recovery" if _use_recovery_code(user, code) else None


def count_attempt(user: User) -> None:
    if not hit("rate_limit_mfa", "mfa", user.id):
        raise TooManyAttempts(user.id)


def _accept_code(factor: TotpFactor, code: str) -> bool:
    """Accept a code of the current step (or one either side) not used before."""
    code = "".join(code.split())
    if not TOTP_CODE.match(code):
        return False
    totp = pyotp.TOTP(decrypt(factor.secret_encrypted), digits=DIGITS, interval=INTERVAL)
    now_step = totp.timecode(time.time())
    matched = None
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            matched = step
    if matched is None:
        return False
    result = session.execute(
        sa.update(TotpFactor)
        .where(
            TotpFactor.id == factor.id,
            sa.or_(TotpFactor.last_used_step.is_(None), TotpFactor.last_used_step < matched),
        )
        .values(last_used_step=matched)
        .execution_options(synchronize_session=False)
    )
    if t.cast(sa.CursorResult[t.Any], result).rowcount != 1:
        return False  # this step's code (or a later one) was already used: a replay
    factor.last_used_step = matched
    return True


def _normalize(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _use_recovery_code(user: User, code: str) -> bool:
    normalized = _normalize(code)
    if len(normalized) != RECOVERY_LENGTH:
        return False
    result = session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == token_hash(normalized),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return t.cast(sa.CursorResult[t.Any], result).rowcount == 1
