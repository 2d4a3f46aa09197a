"""Pending sign-ups: no account exists until the person proves the mailbox is theirs.

Sign-up stores what was typed (the address, the name, the password's argon2id hash) as a
single-use token of purpose ``signup``; the token's value goes only into the signing-up
browser's session cookie, and an 8-digit code only into an email to the address. The
account is created when that browser enters that code: the code alone (read by the
mailbox's owner) does nothing anywhere else, and the cookie alone (the person who typed
someone else's address) cannot guess it (5 tries per code, 3 codes per sign-up, each
code valid ``signup_code_lifetime``). An address that already has an account gets no code:
its owner is told someone tried, and the browser gets the same page, where no code works.

The design of Clerk and Ory Kratos' code method: nothing is created on a bare sign-up, so
nobody can pre-register, squat or pre-hijack someone else's address.
"""

from __future__ import annotations

import dataclasses
import secrets

import sqlalchemy as sa

from app.accounts import tokens
from app.accounts.models import OneTimeToken
from app.accounts.models import User
from app.accounts.services import create_user
from app.connections.models import Connection
from app.connections.strategies import strategy_for
from app.db import session
from app.db import utcnow
from app.orgs.models import Organization
from app.security.crypto import constant_time_equal
from app.security.crypto import keyed_hash
from app.security.passwords import hash_password

CODE_DIGITS = 8
"""About 26.6 bits: at most 15 guesses per sign-up leave a 1 in 6 million chance."""
MAX_ATTEMPTS = 5
"""Wrong codes accepted per code; then the sign-up ends."""
MAX_CODES = 3
"""Codes sent per sign-up (the first and two more on request)."""


@dataclasses.dataclass(frozen=True)
class Started:
    """A pending sign-up: ``token`` for the browser's cookie, ``code`` for the email."""

    token: str
    code: str
    row: OneTimeToken


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def start(
    connection: Connection,
    organization: Organization | None,
    email: str,
    name: str | None,
    password: str,
    locale: str | None,
) -> Started:
    """Store a sign-up whose password already passed the policy; commits.

    Expired sign-ups of the tenant are deleted first (they hold password hashes).
    """
    session.execute(
        sa.delete(OneTimeToken).where(
            OneTimeToken.tenant_id == connection.tenant_id,
            OneTimeToken.purpose == tokens.SIGNUP,
            OneTimeToken.expires_at <= utcnow(),
        )
    )
    code = new_code()
    issued = tokens.issue(
        tokens.SIGNUP,
        tenant_id=connection.tenant_id,
        data={
            "connection_id": connection.id,
            "organization_id": organization.id if organization is not None else None,
            "email": email,
            "name": name,
            "locale": locale,
            "password_hash": hash_password(password),
            "codes_sent": 1,
            "attempts": 0,
        },
    )
    _set_code(issued.row, code)
    session.commit()
    return Started(issued.value, code, issued.row)


def pending(value: str | None, tenant_id: str) -> OneTimeToken | None:
    """The usable pending sign-up a browser's cookie names, or None."""
    return tokens.peek(value, tokens.SIGNUP, tenant_id)


def new_code_for(row: OneTimeToken) -> str | None:
    """A fresh code for the sign-up (the older one stops working); None once
    ``MAX_CODES`` were sent. Commits."""
    locked = _locked(row)
    if locked is None or locked.data.get("codes_sent", 0) >= MAX_CODES:
        session.rollback()
        return None
    code = new_code()
    locked.data = {**locked.data, "codes_sent": locked.data.get("codes_sent", 0) + 1}
    _set_code(locked, code)
    session.commit()
    return code


def check_code(row: OneTimeToken, code: str) -> bool | None:
    """True when ``code`` is the sign-up's, False when wrong (counted), None when the
    sign-up can take no more tries (it is then ended). Commits."""
    locked = _locked(row)
    if locked is None:
        session.rollback()
        return None
    digits = "".join(ch for ch in code if ch.isdigit())
    expected = locked.data.get("code_hash") or ""
    if len(digits) == CODE_DIGITS and constant_time_equal(_code_hash(locked, digits), expected):
        session.commit()
        return True
    attempts = locked.data.get("attempts", 0) + 1
    locked.data = {**locked.data, "attempts": attempts}
    if attempts >= MAX_ATTEMPTS:
        locked.used_at = utcnow()
    session.commit()
    return False if attempts < MAX_ATTEMPTS else None


def complete(value: str, tenant_id: str) -> User | None:
    """Create the account of the sign-up whose code was just right (email verified) and
    end the sign-up; commits.

    None when the sign-up was used meanwhile, or the address got an account meanwhile
    (its owner proved the mailbox: they may be told so).

    :raises app.hooks.PluginError: when a ``prepare_user`` plugin raises (nothing stored).
    """
    try:
        row = tokens.consume(value, tokens.SIGNUP, tenant_id)
        data = dict(row.data) if row is not None else {}
        connection = session.get(Connection, data.get("connection_id") or "")
        if row is None or connection is None or connection.tenant_id != tenant_id:
            session.rollback()
            return None
        if strategy_for(connection).find_user(data["email"]) is not None:
            session.rollback()
            return None
        organization_id = data.get("organization_id")
        user = create_user(
            connection,
            email=data["email"],
            password_hash=data["password_hash"],
            name=data.get("name"),
            email_verified=True,
            organization=session.get(Organization, organization_id) if organization_id else None,
            locale=data.get("locale"),
            password_changed_at=utcnow(),
        )
        row.data = {key: item for key, item in data.items() if key != "password_hash"}
        session.commit()
    except sa.exc.IntegrityError:  # the same address completed twice at once
        session.rollback()
        return None
    except Exception:
        session.rollback()
        raise
    return user


def _locked(row: OneTimeToken) -> OneTimeToken | None:
    """The row again, locked until this transaction ends (PostgreSQL), if still usable."""
    return session.scalar(
        sa.select(OneTimeToken)
        .where(
            OneTimeToken.id == row.id,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > utcnow(),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _set_code(row: OneTimeToken, code: str) -> None:
    row.data = {**row.data, "code_hash": _code_hash(row, code), "attempts": 0}


def _code_hash(row: OneTimeToken, code: str) -> str:
    return keyed_hash(code, f"signup:{row.token_hash}")


# --- The sign-in a sign-up finishes --------------------------------------------------------

SIGNED_UP_KEY = "signed_up"
"""The browser's proof, in its signed session, that it just finished a sign-up."""

SIGNED_UP_LIFETIME = 600
"""Seconds within which the sign-up signs its browser in (then the usual sign-in asks)."""


def signed_up_proof(tx_id: str, user: User, organization_id: str | None) -> dict[str, object]:
    """What the sign-up leaves in its browser's session for the sign-in it interrupted: the
    address is proved by the code entered in this browser and the password was chosen
    moments ago, so asking for both again would only lose the person."""
    return {
        "tx": tx_id,
        "user": user.id,
        "organization": organization_id,
        "at": int(utcnow().timestamp()),
    }


def signed_up_user(proof: object, tx_id: str, tenant_id: str) -> User | None:
    """The user ``proof`` vouches for, in the sign-in ``tx_id`` of ``tenant_id``, while fresh
    and the account is usable; else None (the sign-in then asks as usual)."""
    if not isinstance(proof, dict) or proof.get("tx") != tx_id:
        return None
    at = proof.get("at")
    if not isinstance(at, int) or not 0 <= utcnow().timestamp() - at <= SIGNED_UP_LIFETIME:
        return None
    user = session.get(User, str(proof.get("user") or ""))
    if user is None or user.tenant_id != tenant_id or user.blocked:
        return None
    return user
