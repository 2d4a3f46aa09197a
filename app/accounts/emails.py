"""The account emails: what each says, the link it carries, and how it is delivered.

Links are built from the tenant's configured domains (the organization's vanity host when
it has one), never from the request's Host or X-Forwarded-Host. Rendering goes through
:mod:`app.mail.render` (theme loader, recipient's language, organization's brand).
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

from flask import current_app

from app.accounts import tokens
from app.accounts.background import background_job
from app.accounts.models import User
from app.connections.services import dedicated_organization
from app.db import session
from app.events.record import record_event
from app.mail.outbox import queue_email
from app.mail.render import render_email
from app.tenancy.models import Tenant

if t.TYPE_CHECKING:
    from app.mail.message import EmailMessage
    from app.orgs.models import Organization


def base_url_for(tenant: Tenant, organization: Organization | None = None) -> str:
    """The canonical URL links should use: the organization's vanity host, else the
    tenant's primary domain (both configured by admins, never taken from a request)."""
    if organization is not None:
        for domain in tenant.domains:
            if domain.organization_id == organization.id:
                return domain.base_url
    return tenant.base_url


def has_vanity_host(tenant: Tenant, organization: Organization) -> bool:
    return any(domain.organization_id == organization.id for domain in tenant.domains)


def tenant_url(
    tenant: Tenant, endpoint: str, organization: Organization | None = None, **values: t.Any
) -> str:
    """An absolute URL of ``endpoint`` on the tenant's canonical domain; for an organization,
    on its vanity host, else under its ``/o/<name>/`` path, so the page is the
    organization's (brand, connections) wherever the link is opened."""
    parts = urlsplit(base_url_for(tenant, organization))
    script_name = None
    if organization is not None and not has_vanity_host(tenant, organization):
        script_name = f"/o/{organization.name}"
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=script_name, url_scheme=parts.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def deliver(message: EmailMessage, tenant: Tenant, organization: Organization | None) -> bool:
    """Put the email in the outbox and commit: the worker sends it, retrying with backoff
    (a mail server down), and records ``email_failed`` if it gives up. True once queued."""
    queue_email(message, tenant, organization)
    session.commit()
    return True


def user_name(user: User) -> str | None:
    return user.given_name or user.name or None


def _organization(user: User, organization: Organization | None) -> Organization | None:
    if organization is not None and organization.tenant_id == user.tenant_id:
        return organization
    return None


def _tenant(user: User) -> Tenant:
    tenant = session.get(Tenant, user.tenant_id)
    assert tenant is not None
    return tenant


def send_password_reset(
    user: User, organization: Organization | None = None, page_locale: str | None = None
) -> bool:
    """Issue a reset token (voiding older ones), commit, email the link.

    :param page_locale: The language of the page the person asked on: their account has
        none saved, so the mail speaks the language they were just reading.
    """
    tenant = _tenant(user)
    organization = _organization(user, organization)
    issued = tokens.issue(
        tokens.PASSWORD_RESET,
        tenant_id=tenant.id,
        user=user,
        data={"organization_id": organization.id if organization else None},
    )
    session.commit()
    settings = current_app.extensions["foyer.settings"]
    message = render_email(
        "password_reset",
        to=t.cast(str, user.email),
        tenant=tenant,
        organization=organization,
        locale=user.locale or page_locale,
        reset_url=tenant_url(tenant, "accounts.reset_form", organization, token=issued.value),
        minutes=max(1, settings.reset_token_lifetime // 60),
        user_name=user_name(user),
    )
    record_event(
        "password_reset_requested",
        tenant=tenant,
        organization=organization,
        user_id=user.id,
        connection_id=user.connection_id,
    )
    return deliver(message, tenant, organization)


def send_verification(
    user: User, organization: Organization | None = None, page_locale: str | None = None
) -> bool:
    """Issue an email verification token (voiding older ones), commit, email the link
    (in ``page_locale`` when the account has no language saved, as for a reset)."""
    tenant = _tenant(user)
    organization = _organization(user, organization)
    issued = tokens.issue(
        tokens.EMAIL_VERIFICATION,
        tenant_id=tenant.id,
        user=user,
        data={
            "email": user.email_normalized,
            "organization_id": organization.id if organization else None,
        },
    )
    session.commit()
    settings = current_app.extensions["foyer.settings"]
    message = render_email(
        "verify_email",
        purpose="email_verification",
        to=t.cast(str, user.email),
        tenant=tenant,
        organization=organization,
        locale=user.locale or page_locale,
        verify_url=tenant_url(tenant, "accounts.verify_email", organization, token=issued.value),
        hours=max(1, settings.verify_token_lifetime // 3600),
        user_name=user_name(user),
    )
    record_event(
        "email_verification_sent",
        tenant=tenant,
        organization=organization,
        user_id=user.id,
        connection_id=user.connection_id,
    )
    return deliver(message, tenant, organization)


def send_password_changed(user: User, how: str, organization: Organization | None = None) -> bool:
    """Tell the user their password changed (``how``: ``reset`` or ``change``)."""
    if not user.email:
        return False
    tenant = _tenant(user)
    organization = _organization(user, organization)
    message = render_email(
        "password_changed",
        to=user.email,
        tenant=tenant,
        organization=organization,
        locale=user.locale,
        reset_url=tenant_url(tenant, "accounts.reset_request", organization),
        how=how,
        user_name=user_name(user),
    )
    return deliver(message, tenant, organization)


def send_signup_code(
    tenant: Tenant,
    organization: Organization | None,
    email: str,
    code: str,
    locale: str | None,
) -> bool:
    """Email the code that confirms a pending sign-up (no account exists yet), in two
    halves (``1234 5678``: easier to read and type)."""
    settings = current_app.extensions["foyer.settings"]
    message = render_email(
        "signup_code",
        purpose="signup_code",
        to=email,
        tenant=tenant,
        organization=organization,
        locale=locale,
        code=f"{code[: len(code) // 2]} {code[len(code) // 2 :]}",
        minutes=max(1, settings.signup_code_lifetime // 60),
    )
    record_event("signup_code_sent", tenant=tenant, organization=organization)
    return deliver(message, tenant, organization)


def send_link_code(
    user: User, organization: Organization | None, code: str, upstream: str, minutes: int
) -> bool:
    """Email the code that proves ``user`` owns their account before an upstream identity
    (``upstream``, the connection's name on the pages) is linked to it."""
    tenant = _tenant(user)
    organization = _organization(user, organization)
    assert user.email is not None
    message = render_email(
        "link_code",
        purpose="link_code",
        to=user.email,
        tenant=tenant,
        organization=organization,
        locale=user.locale,
        code=f"{code[: len(code) // 2]} {code[len(code) // 2 :]}",
        upstream=upstream,
        minutes=minutes,
        user_name=user_name(user),
    )
    return deliver(message, tenant, organization)


def send_signup_attempt(user: User, organization: Organization | None = None) -> bool:
    """Tell an existing account that someone signed up with its address."""
    tenant = _tenant(user)
    organization = _organization(user, organization)
    message = render_email(
        "signup_attempt",
        to=t.cast(str, user.email),
        tenant=tenant,
        organization=organization,
        locale=user.locale,
        login_url=tenant_url(tenant, "login.identifier", organization),
        reset_url=tenant_url(tenant, "accounts.reset_request", organization),
        user_name=user_name(user),
    )
    return deliver(message, tenant, organization)


def send_account_blocked(user: User, organization: Organization | None = None) -> bool:
    """Tell the user their account was blocked (who to contact is in the footer)."""
    if not user.email:
        return False
    tenant = _tenant(user)
    organization = _organization(user, organization)
    message = render_email(
        "account_blocked",
        to=user.email,
        tenant=tenant,
        organization=organization,
        locale=user.locale,
        user_name=user_name(user),
    )
    return deliver(message, tenant, organization)


@background_job
def send_unblock_link(user_id: str, ip: str) -> bool:
    """Tell the user sign-ins to their account from ``ip`` are blocked after too many
    failures: a single-use link lifts the block, and a password reset link if it was not
    them. Background work (the sign-in's answer does not wait for it)."""
    user = session.get(User, user_id)
    if user is None or not user.email:
        return False
    tenant = _tenant(user)
    organization = dedicated_organization(user.connection)
    issued = tokens.issue(tokens.UNBLOCK, tenant_id=tenant.id, user=user)
    session.commit()
    message = render_email(
        "login_blocked",
        to=user.email,
        tenant=tenant,
        organization=organization,
        locale=user.locale,
        unblock_url=tenant_url(tenant, "accounts.unblock", organization, token=issued.value),
        reset_url=tenant_url(tenant, "accounts.reset_request", organization),
        hours=max(1, int(tokens.lifetime(tokens.UNBLOCK).total_seconds()) // 3600),
        ip=ip,
        user_name=user_name(user),
    )
    return deliver(message, tenant, organization)
