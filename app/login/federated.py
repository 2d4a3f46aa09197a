"""Coming back from an upstream IdP: the callback URL, and what happens to the person it
signed in.

A redirecting strategy that finishes at Foyer
(:class:`~app.connections.strategies.CallbackStrategy`: the builtin ``oidc``, ``saml``)
sends a ``state`` made by
:func:`~app.connections.strategies.new_state`. :func:`receive` takes the answer: the
``state`` names the sign-in, which only the browser it belongs to can load (an answer
carried to another browser, the "login CSRF" of OAuth, is refused), and must be exactly the
value saved when the browser left; it is good once. The strategy then checks the answer
(:meth:`~app.connections.strategies.CallbackStrategy.finish_login`) and
:func:`upstream_signed_in` finds the user:

1. by the identity (connection, upstream subject): the subject is the stable key, never
   the email; a user created here gets the profile the IdP sends now;
2. else, when the connection's ``link_to`` names another connection holding an account
   with the same (normalized) address and the IdP verified that address, the user proves
   that account first (:mod:`app.login.linking`) before the identity is linked to it;
3. else a new user of the connection (just-in-time), through ``prepare_user``.

Any failure is :func:`upstream_failed`: the branded error page in the user's language with
the organization's support contact and a reference, an ``upstream_failed`` event, and
nothing written.
"""

from __future__ import annotations

import hashlib
import logging
import typing as t

import sqlalchemy as sa
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from app.accounts.models import Identity
from app.accounts.models import User
from app.accounts.services import clean_email
from app.accounts.services import create_user
from app.accounts.services import normalize_email
from app.connections.services import find_connection
from app.connections.strategies import CallbackStrategy
from app.connections.strategies import UpstreamAnswer
from app.connections.strategies import UpstreamError
from app.connections.strategies import UpstreamProfile
from app.connections.strategies import state_transaction
from app.connections.strategies import strategy_for
from app.db import session
from app.errors import error_page
from app.events.record import record_event
from app.hooks import PluginError
from app.login import flow
from app.login import oidc_logout
from app.login import steps
from app.login.context import sign_in_for
from app.security.crypto import constant_time_equal

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.login.context import SignIn
    from app.tenancy.models import Tenant

log = logging.getLogger(__name__)

LINK = "link"
"""The step of a sign-in whose upstream identity waits to be linked to an existing account."""

PAGES = {
    "access_denied": "upstream_denied",
    "upstream_unavailable": "upstream_unavailable",
    "upstream_misconfigured": "upstream_failed",
    "invalid_response": "upstream_failed",
    "email_in_use": "account_conflict",
}
"""The error page shown for each :class:`UpstreamError` code."""

DISABLED = "connection_disabled"
"""The ``reason`` of the page refusing an answer for a switched-off connection."""

PROFILE_FIELDS = ("name", "given_name", "family_name", "locale")
LOCALE_MAX = 16
SUBJECT_MAX = 255


# --- The callback --------------------------------------------------------------------------


def callback() -> Response | tuple[str, int]:
    """``GET /login/callback``: the answer of an upstream OpenID Connect IdP."""
    return receive(request.args.get("state") or "", request.args)


def receive(state: str, params: t.Mapping[str, str]) -> Response | tuple[str, int]:
    """Take an upstream answer carrying ``state``: check it belongs to this browser's
    sign-in, have the strategy check it, then sign the person in (or show why not).

    For a strategy's callback route (``saml`` passes its ``RelayState`` and form).
    """
    sign_in = sign_in_for(state_transaction(state[:200]))
    tx = sign_in.transaction
    if tx is None or tx.completed or not tx.upstream.get("state"):
        return error_page("login_expired", reason="upstream_state_unknown")
    pending = tx.upstream
    connection = sign_in.connection
    if (
        not constant_time_equal(str(pending["state"]), state)
        or connection is None
        or connection.id != pending.get("connection")
    ):
        return error_page("login_expired", reason="upstream_state_mismatch")
    tx.upstream = {}  # single use: the same answer never works twice
    flow.save(tx)
    if not connection.enabled:  # switched off while the person was upstream
        return error_page("no_connection", connection=connection.name, reason=DISABLED)
    organization = sign_in.organization
    if organization is not None and connection not in organization.connections:
        # the organization stopped enabling the connection while the person was upstream
        return error_page("no_connection", connection=connection.name)
    strategy = strategy_for(connection)
    if not isinstance(strategy, CallbackStrategy):
        return error_page("no_connection", connection=connection.name)
    answer = UpstreamAnswer(
        transaction_id=tx.id,
        params={key: str(value) for key, value in params.items()},
        saved=pending.get("saved") or {},
        callback_url=str(pending.get("callback_url") or ""),
    )
    try:
        profile = strategy.finish_login(answer)
    except UpstreamError as exc:
        return upstream_failed(sign_in, connection, exc)
    except Exception as exc:  # noqa: BLE001 - a strategy's bug is one more failed answer
        log.exception("strategy %s failed on an upstream answer", connection.strategy)
        error = UpstreamError("invalid_response", f"strategy error: {type(exc).__name__}")
        return upstream_failed(sign_in, connection, error)
    response = upstream_signed_in(sign_in, connection, profile)
    oidc_logout.remember(connection, profile, tx.id, response)
    return response


def upstream_failed(sign_in: SignIn, connection: Connection, error: UpstreamError) -> Response:
    """The branded error page for an upstream sign-in that could not be finished, after an
    ``upstream_failed`` event with the detail (the page's reference is the request id, held
    by its ``error_shown`` event, which names the ``upstream_failed`` one). Nothing is
    written."""
    session.rollback()
    tx = sign_in.transaction
    event = record_event(
        "upstream_failed",
        tenant=sign_in.tenant,
        organization=sign_in.organization,
        client_id=sign_in.client.client_id if sign_in.client else None,
        connection_id=connection.id,
        data={
            "code": error.code,
            "detail": error.detail[:500],
            "connection": connection.name,
            "hrd": tx.hrd if tx is not None else [],
        },
    )
    return error_page(
        PAGES.get(error.code, "upstream_failed"),
        connection=connection.name,
        upstream_error=error.code,
        upstream_event=event.id,
    )


# --- Who the upstream signed in ------------------------------------------------------------


def upstream_signed_in(
    sign_in: SignIn, connection: Connection, profile: UpstreamProfile
) -> Response | tuple[str, int]:
    """The upstream IdP signed ``profile`` in through ``connection`` for ``sign_in``:
    find the user by the identity, or link an existing account once proved, or create one;
    then the sign-in's next steps (:mod:`app.login.steps`)."""
    tx = sign_in.transaction
    if tx is None or tx.completed:
        return error_page("login_expired")
    if not profile.subject or len(profile.subject) > SUBJECT_MAX:
        return upstream_failed(sign_in, connection, UpstreamError("invalid_response", "subject"))
    tx.connection_id = connection.id
    identity = find_identity(connection, profile.subject)
    try:
        if identity is not None:
            user = identity.user
            if user.tenant_id != sign_in.tenant.id:
                return error_page("access_denied", reason="identity_of_another_tenant")
            refresh(user, identity, connection, profile)
        else:
            candidate = link_candidate(sign_in.tenant, connection, profile)
            if candidate is not None:
                return ask_to_link(sign_in, connection, candidate, profile)
            user = create_from_profile(sign_in, connection, profile)
        session.commit()
    except UpstreamError as exc:
        return upstream_failed(sign_in, connection, exc)
    except PluginError:
        session.rollback()  # a prepare_user plugin refused: nothing is stored
        raise
    if identity is None:
        record_event(
            "user_created",
            tenant=sign_in.tenant,
            organization=sign_in.organization,
            user_id=user.id,
            connection_id=connection.id,
            data={"via": "upstream", "subject": profile.subject},
        )
    return signed_in_as(sign_in, connection, user, profile.amr)


def signed_in_as(
    sign_in: SignIn, connection: Connection, user: User, amr: t.Sequence[str]
) -> Response | tuple[str, int]:
    """The upstream sign-in is ``user``'s: refuse a blocked user, else the next steps."""
    tx = sign_in.transaction
    assert tx is not None
    if user.blocked:
        record_event(
            "login_blocked",
            tenant=sign_in.tenant,
            organization=sign_in.organization,
            user_id=user.id,
            client_id=sign_in.client.client_id if sign_in.client else None,
            connection_id=connection.id,
            data={"hrd": tx.hrd, "via": "upstream"},
        )
        flow.discard(tx)
        return error_page("access_denied")
    return steps.authenticated(sign_in, user, connection, list(amr) or ["fed"])


def find_identity(connection: Connection, subject: str) -> Identity | None:
    return session.scalar(
        sa.select(Identity).where(
            Identity.connection_id == connection.id, Identity.subject == subject
        )
    )


def clean_profile_email(profile: UpstreamProfile) -> str | None:
    """The profile's address as Foyer stores it, or None when it is not one."""
    if not profile.email or len(profile.email) > 320:
        return None
    try:
        return clean_email(profile.email)
    except ValueError:
        return None


def profile_columns(profile: UpstreamProfile) -> dict[str, t.Any]:
    """The user columns the IdP fills (names, locale)."""
    columns: dict[str, t.Any] = {}
    for field in PROFILE_FIELDS:
        value = getattr(profile, field)
        if isinstance(value, str) and value.strip():
            columns[field] = value.strip()[: LOCALE_MAX if field == "locale" else 500]
    return columns


def mapped_metadata(profile: UpstreamProfile) -> dict[str, t.Any]:
    """What the mapping sends into ``app_metadata`` (groups under ``groups``)."""
    metadata = dict(profile.app_metadata)
    if profile.groups:
        metadata["groups"] = list(profile.groups)
    return metadata


def email_owner(connection: Connection, email: str) -> User | None:
    """The user of ``connection`` holding this address, if any."""
    return session.scalar(
        sa.select(User).where(
            User.connection_id == connection.id, User.email_normalized == normalize_email(email)
        )
    )


def create_from_profile(sign_in: SignIn, connection: Connection, profile: UpstreamProfile) -> User:
    """A new user of ``connection`` (just-in-time) with its identity; not committed.

    :raises UpstreamError: ``email_in_use`` when another user of the connection holds the
        address (another upstream subject, or an account made before): never merged.
    :raises PluginError: when a ``prepare_user`` plugin refuses.
    """
    email = clean_profile_email(profile)
    if email is not None and email_owner(connection, email) is not None:
        raise UpstreamError("email_in_use", "another user of the connection has this address")
    username = None
    if email is None:
        subject = profile.subject
        username = subject if len(subject) <= 128 else hashlib.sha256(subject.encode()).hexdigest()
    user = create_user(
        connection,
        email=email,
        username=username,
        email_verified=bool(email and profile.email_verified),
        organization=sign_in.organization,
        app_metadata=mapped_metadata(profile),
        **profile_columns(profile),
    )
    user.identities.append(
        Identity(connection_id=connection.id, subject=profile.subject, profile=profile.claims)
    )
    session.flush()
    return user


def refresh(
    user: User, identity: Identity, connection: Connection, profile: UpstreamProfile
) -> None:
    """A later sign-in: the identity keeps what the IdP sent now; a user of the connection
    (made here just in time) gets the mapped profile. An account linked from another
    connection keeps its own profile. Not committed."""
    identity.profile = dict(profile.claims)
    if user.connection_id != connection.id:
        return
    for field, value in profile_columns(profile).items():
        setattr(user, field, value)
    metadata = dict(user.app_metadata or {})
    metadata.update(mapped_metadata(profile))
    if not profile.groups:
        metadata.pop("groups", None)
    user.app_metadata = metadata
    email = clean_profile_email(profile)
    if email is None or normalize_email(email) == user.email_normalized:
        user.email_verified = bool(user.email and profile.email_verified)
        return
    owner = email_owner(connection, email)
    if owner is not None and owner.id != user.id:
        # the IdP moved another user's address to this subject: keep ours, merge nothing
        record_event(
            "upstream_email_conflict",
            tenant_id=user.tenant_id,
            user_id=user.id,
            connection_id=connection.id,
            data={"subject": identity.subject, "other_user": owner.id},
        )
        return
    user.email = email
    user.email_normalized = normalize_email(email)
    user.email_verified = profile.email_verified


# --- Linking to an existing account ---------------------------------------------------------


def link_candidate(tenant: Tenant, connection: Connection, profile: UpstreamProfile) -> User | None:
    """The existing account this new upstream identity may be linked to once proved: a
    user of a connection the tenant lists in this connection's ``link_to``, with the
    address the IdP *verified*. None otherwise (never on an unverified address)."""
    email = clean_profile_email(profile)
    if email is None or not profile.email_verified:
        return None
    allowed = (connection.options or {}).get("link_to") or []
    if not isinstance(allowed, list):
        return None
    for name in allowed:
        if not isinstance(name, str) or name == connection.name:
            continue
        other = find_connection(tenant, name)
        if other is None:
            continue
        user = email_owner(other, email)
        if user is not None and not user.blocked:
            return user
    return None


def ask_to_link(
    sign_in: SignIn, connection: Connection, candidate: User, profile: UpstreamProfile
) -> Response:
    """Park the sign-in until the user proves ``candidate`` is theirs (the link step)."""
    tx = sign_in.transaction
    assert tx is not None
    session.rollback()
    tx.upstream = {
        LINK: {
            "connection": connection.id,
            "user": candidate.id,
            "profile": profile_data(profile),
        }
    }
    return steps.wait_for(sign_in, LINK, url_for("login.link_account", tx=tx.id))


def profile_data(profile: UpstreamProfile) -> dict[str, t.Any]:
    """A profile as JSON, kept in the transaction while the link waits."""
    return {
        "subject": profile.subject,
        "email": profile.email,
        "email_verified": profile.email_verified,
        "name": profile.name,
        "given_name": profile.given_name,
        "family_name": profile.family_name,
        "locale": profile.locale,
        "groups": list(profile.groups),
        "app_metadata": dict(profile.app_metadata),
        "amr": list(profile.amr),
        "claims": dict(profile.claims),
        "logout": dict(profile.logout),
    }


def link_identity(
    sign_in: SignIn, connection: Connection, user: User, profile: UpstreamProfile
) -> Response | tuple[str, int]:
    """The user proved ``user`` is theirs: link the upstream identity to it and go on."""
    if find_identity(connection, profile.subject) is not None:  # linked in another tab
        return error_page("login_expired", reason="identity_already_linked")
    user.identities.append(
        Identity(connection_id=connection.id, subject=profile.subject, profile=profile.claims)
    )
    session.commit()
    record_event(
        "identity_linked",
        tenant=sign_in.tenant,
        organization=sign_in.organization,
        user_id=user.id,
        connection_id=connection.id,
        data={"subject": profile.subject, "account_connection": user.connection_id},
    )
    return signed_in_as(sign_in, connection, user, profile.amr)


def find_link_connection(sign_in: SignIn) -> Connection | None:
    """The connection whose identity waits to be linked (the sign-in's)."""
    tx = sign_in.transaction
    connection = sign_in.connection
    pending = tx.upstream.get(LINK) if tx is not None else None
    if not pending or connection is None or connection.id != pending.get("connection"):
        return None
    return connection
