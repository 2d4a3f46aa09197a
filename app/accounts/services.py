"""Creating and finding users (no Flask request needed: the CLI and plugins reuse these)."""

from __future__ import annotations

import typing as t

from app.accounts.models import User
from app.db import session
from app.strategies.database import normalize_email

if t.TYPE_CHECKING:
    from app.connections.models import Connection


class PasswordRejected(ValueError):
    """A new password breaks the policy; ``message`` is user-facing."""


def check_password_policy(password: str) -> None:
    from flask import current_app
    from flask_babel import gettext as _

    s = current_app.extensions["foyer.settings"]
    if len(password) > s.password_max_length:
        raise PasswordRejected(_("Use at most %(n)d characters.", n=s.password_max_length))
    if len(password) < s.password_min_length:
        raise PasswordRejected(_("Use at least %(n)d characters.", n=s.password_min_length))


def create_user(
    connection: Connection,
    *,
    email: str | None = None,
    username: str | None = None,
    password: str | None = None,
    password_hash: str | None = None,
    email_verified: bool = False,
    **profile: t.Any,
) -> User:
    """Create a user of ``connection``; the password is checked by policy and hashed."""
    from app.strategies.registry import strategy_for

    if not email and not username:
        raise ValueError("a user needs an email or a username")
    user = User(
        tenant_id=connection.tenant_id,
        connection_id=connection.id,
        email=email.strip() if email else None,
        email_normalized=normalize_email(email) if email else None,
        username=username,
        email_verified=email_verified,
        password_hash=password_hash,
        **profile,
    )
    if password is not None:
        check_password_policy(password)
        strategy_for(connection).set_password(user, password)
    session.add(user)
    session.flush()
    return user
