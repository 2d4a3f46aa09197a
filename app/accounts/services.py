"""Creating and finding users (no Flask request needed: the CLI and plugins reuse these)."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.accounts.credentials import sign_out_everywhere
from app.accounts.models import Consent
from app.accounts.models import Identity
from app.accounts.models import OneTimeToken
from app.accounts.models import RecoveryCode
from app.accounts.models import TotpFactor
from app.accounts.models import User
from app.accounts.password_strength import min_score as tenant_min_score
from app.accounts.password_strength import personal_values
from app.accounts.password_strength import weakness
from app.connections.strategies import strategy_for
from app.db import session
from app.events.models import Event
from app.events.record import record_event
from app.hooks import call_hook
from app.orgs.models import Membership
from app.tenancy.models import Tenant
from app.tenancy.services import normalize_hostname

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant


def clean_email(email: str) -> str:
    """An address as Foyer stores and mails it: trimmed, the local part as typed, the
    domain in lower-case IDNA (punycode) without trailing dots (``Ann@Bücher.Example.`` ->
    ``Ann@xn--bcher-kva.example``), so no mail goes to a malformed ``To:``.

    :raises ValueError: when it is not an address (no local part, an invalid domain).
    """
    local, at, domain = email.strip().rpartition("@")
    if not at or not local.strip() or local != local.strip():
        raise ValueError("not an email address")
    return f"{local}@{normalize_hostname(domain)}"


def normalize_email(email: str) -> str:
    """The form addresses are compared in (``User.email_normalized``): :func:`clean_email`
    in lower case. Never raises: what is not an address is only trimmed and lower-cased,
    and matches no stored address."""
    try:
        return clean_email(email).lower()
    except ValueError:
        return email.strip().lower()


class PasswordRejected(ValueError):
    """A new password breaks the policy; ``message`` is user-facing."""


def check_password_policy(
    password: str,
    *,
    tenant: Tenant | None = None,
    organization: Organization | None = None,
    user: User | None = None,
    email: str | None = None,
    names: t.Sequence[str | None] = (),
    min_score: int | None = None,
    check_length: bool = True,
) -> None:
    """Refuse a new password that breaks the length rules, is too easy to guess (the
    tenant's ``passwords.min_score``, or is the user's email or name), or breaks a
    ``check_password`` plugin.

    Plugins are asked only when the tenant is known (every sign-up, reset and change).

    :param email: The address of a new user (default: ``user``'s).
    :param names: The names of a new user (``user``'s are always included).
    :param min_score: Instead of the tenant's setting (a config file checks against the
        value it sets).
    :param check_length: False for a password already in use (checked at sign-in): only
        how guessable it is counts.
    :raises PasswordRejected: with a user-facing message.
    :raises app.hooks.PluginError: when a password plugin raises.
    """

    s = current_app.extensions["foyer.settings"]
    if check_length and len(password) > s.password_max_length:
        raise PasswordRejected(_("Use at most %(n)d characters.", n=s.password_max_length))
    if check_length and len(password) < s.password_min_length:
        raise PasswordRejected(_("Use at least %(n)d characters.", n=s.password_min_length))
    if email is None and user is not None:
        email = user.email
    if user is not None:
        names = [*names, user.name, user.given_name, user.family_name, user.username]
    context = [tenant.display_name if tenant else None]
    if organization is not None:
        context += [organization.name, organization.display_name]
    weak = weakness(
        password,
        minimum=tenant_min_score(tenant) if min_score is None else min_score,
        personal=personal_values(email, names),
        context=[value for value in context if value],
    )
    if weak is not None:
        raise PasswordRejected(weak)
    if tenant is None:
        return
    for reason in call_hook(
        "check_password",
        tenant=tenant,
        organization=organization,
        password=password,
        user=user,
        email=email,
    ):
        raise PasswordRejected(str(reason))


def create_user(
    connection: Connection,
    *,
    email: str | None = None,
    username: str | None = None,
    password: str | None = None,
    password_hash: str | None = None,
    email_verified: bool = False,
    organization: Organization | None = None,
    **profile: t.Any,
) -> User:
    """Create a user of ``connection``; the password is checked by policy and hashed.

    ``prepare_user`` plugins may change the user before it is stored. The caller commits,
    then records ``user_created``.

    :param organization: The organization the user signs up or is invited into, if any.
    :raises PasswordRejected: when the password breaks the policy.
    :raises app.hooks.PluginError: when a ``prepare_user`` or ``check_password`` plugin
        raises (nothing is stored).
    """

    if not email and not username:
        raise ValueError("a user needs an email or a username")
    user = User(
        tenant_id=connection.tenant_id,
        connection_id=connection.id,
        email=clean_email(email) if email else None,
        email_normalized=normalize_email(email) if email else None,
        username=username,
        email_verified=email_verified,
        password_hash=password_hash,
        **profile,
    )
    tenant = session.get(Tenant, connection.tenant_id)
    if password is not None:
        check_password_policy(
            password,
            tenant=tenant,
            organization=organization,
            email=user.email,
            names=[user.name, user.given_name, user.family_name, user.username],
        )
        strategy_for(connection).set_password(user, password)
    call_hook(
        "prepare_user",
        tenant=tenant,
        organization=organization,
        user=user,
        connection=connection,
    )
    session.add(user)
    session.flush()
    return user


def set_blocked(user: User, blocked: bool = True) -> None:
    """Block (or unblock) a user: a blocked user's sessions and refresh tokens end at once
    (applications registered for it are told by back-channel logout) and sign-ins are
    refused. The CLI, the management API and SCIM deprovisioning all block through here.

    Commits, then records ``user_blocked`` (``data.blocked`` says which way).
    """

    user.blocked = blocked
    if blocked:
        sign_out_everywhere(user, "user_blocked")
    session.commit()
    record_event(
        "user_blocked",
        tenant_id=user.tenant_id,
        user_id=user.id,
        connection_id=user.connection_id,
        data={"blocked": blocked},
    )


def delete_user(user: User) -> None:
    """Delete a user with their identities, memberships and sessions; records ``user_deleted``.

    Their sessions and refresh tokens end first, so applications registered for
    back-channel logout are told. The event keeps the user's id (never their email), so
    sinks can delete their own copy.
    """

    tenant_id, user_id, connection_id = user.tenant_id, user.id, user.connection_id
    sign_out_everywhere(user, "user_deleted")
    session.delete(user)
    session.commit()
    record_event("user_deleted", tenant_id=tenant_id, user_id=user_id, connection_id=connection_id)


PERSONAL = (
    "email",
    "email_normalized",
    "username",
    "password_hash",
    "name",
    "given_name",
    "family_name",
    "locale",
    "last_login_at",
    "password_changed_at",
)
"""The user's columns that say who they are; anonymizing empties them."""


def anonymize_user(user: User) -> None:
    """Keep the user's row and event log, without anything that says who they were.

    As :func:`delete_user`, every session and refresh token ends first (applications
    registered for back-channel logout are told). Then the profile, metadata, password,
    linked identities, memberships, single-use tokens, two-step factors and consents go
    (in the caller's transaction with what it removed too), the user stays
    blocked, and their events lose the address they came from and any value naming them
    (the identifier typed at sign-in). Records ``user_anonymized``.
    """
    names = {v.lower() for v in (user.email, user.username, user.name) if v}
    sign_out_everywhere(user, "user_anonymized")
    for column in PERSONAL:
        setattr(user, column, None)
    user.email_verified = False
    user.user_metadata, user.app_metadata, user.blocked = {}, {}, True
    for model in (Identity, OneTimeToken, TotpFactor, RecoveryCode, Consent, Membership):
        session.execute(sa.delete(model).where(model.user_id == user.id))
    for event in session.scalars(sa.select(Event).where(Event.user_id == user.id)):
        event.ip = None
        event.data = {k: v for k, v in (event.data or {}).items() if not _names(v, names)}
    session.commit()
    record_event(
        "user_anonymized",
        tenant_id=user.tenant_id,
        user_id=user.id,
        connection_id=user.connection_id,
    )


def _names(value: t.Any, names: set[str]) -> bool:
    """``value`` holds one of the user's names (an event's ``identifier``)."""
    text = str(value).lower()
    return any(name in text for name in names)


def user_label(user: User) -> str:
    """How a user is named on the pages: email, else username, else name."""
    return user.email or user.username or user.name or ""
