"""Who an account page is for: the signed-in user, else a visitor sent to sign in first."""

from __future__ import annotations

import typing as t

from flask import redirect
from flask import url_for
from werkzeug.wrappers import Response

from app.branding.pages import page_subject
from app.branding.pages import show_page
from app.db import session
from app.orgs.models import Organization
from app.sessions.services import current_sso

if t.TYPE_CHECKING:
    from app.accounts.models import User


def signed_in_user() -> User | None:
    sso = current_sso()
    return sso.user if sso is not None else None


def sign_in_first() -> Response:
    """Send a visitor who is not signed in to the sign-in page."""
    return redirect(url_for("login.identifier"))


def show_session_organization() -> None:
    """Before the account pages: a page that no sign-in (``?tx=``) or vanity host brands
    carries the brand of the organization the session was signed in to, so a user who
    signed in through Acme keeps seeing Acme on their account pages."""
    subject = page_subject()
    if subject.organization is not None or subject.transaction is not None:
        return
    sso = current_sso()
    if sso is None or not sso.organization_id:
        return
    organization = session.get(Organization, sso.organization_id)
    if organization is not None and organization.tenant_id == sso.user.tenant_id:
        show_page(organization, subject.client)
