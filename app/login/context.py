"""The sign-in a request serves: one typed object, made once per request.

:func:`current_sign_in` makes it on first use from the request's ``?tx=`` (the login
transaction of :mod:`app.login.flow`): the tenant, the application (looked up once), the
organization, and, as the sign-in goes on, its connection and user. Making it also says
whose page this is (:func:`app.branding.pages.show_page`) and which languages the reader
prefers (:func:`app.i18n.page_languages`), so the request's pages, error pages and emails
carry the sign-in's brand and language. The login, account and invitation pages load it
before their views run.
"""

from __future__ import annotations

import typing as t

from flask import g
from flask import request

from app.accounts.models import User
from app.branding.pages import show_page
from app.clients.services import tenant_client
from app.db import session
from app.i18n import page_choice
from app.i18n import page_choice_time
from app.i18n import page_languages
from app.login import flow
from app.login.discovery import connection_of
from app.login.discovery import organization_of
from app.sessions.services import current_sso
from app.tenancy.paths import vanity_organization
from app.tenancy.resolve import current_tenant

if t.TYPE_CHECKING:
    from app.clients.models import Client
    from app.connections.models import Connection
    from app.login.flow import LoginTransaction
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

_SIGN_IN = "foyer_sign_in"


class SignIn:
    """The current sign-in: its tenant, transaction (None before one is opened, or when the
    request's ``tx`` is unknown or expired), application, organization, connection and,
    once authenticated, user."""

    def __init__(
        self,
        tenant: Tenant,
        transaction: LoginTransaction | None,
        client: Client | None,
        organization: Organization | None,
    ) -> None:
        self.tenant = tenant
        self.transaction = transaction
        self.client = client
        self._organization = organization
        self._show()

    @property
    def organization(self) -> Organization | None:
        return self._organization

    @organization.setter
    def organization(self, organization: Organization | None) -> None:
        """A new organization brands the pages from now on."""
        self._organization = organization
        self._show()

    @property
    def connection(self) -> Connection | None:
        """The connection discovery chose, once it has."""
        tx = self.transaction
        return connection_of(self.tenant, tx.connection_id) if tx is not None else None

    @property
    def user(self) -> User | None:
        """The authenticated user, once known."""
        tx = self.transaction
        if tx is None or not tx.user_id:
            return None
        user = session.get(User, tx.user_id)
        return user if user is not None and user.tenant_id == self.tenant.id else None

    def reload_organization(self) -> None:
        """Follow the transaction's organization after discovery changed it."""
        self.organization = organization_for(self.tenant, self.transaction)

    def _show(self) -> None:
        show_page(self._organization, self.client, self.transaction)


def current_sign_in() -> SignIn:
    """This request's sign-in, made on first use from ``?tx=``."""
    sign_in = g.get(_SIGN_IN)
    if sign_in is None:
        sign_in = sign_in_for(request.args.get("tx"))
    return t.cast(SignIn, sign_in)


def sign_in_for(tx_id: str | None) -> SignIn:
    """Make the sign-in ``tx_id`` (when this browser may use it) the request's, with its
    brand and languages: for a page that names its sign-in another way than ``?tx=`` (an
    upstream IdP's answer names it in ``state``)."""
    tenant = current_tenant()
    sign_in = open_sign_in(tenant, flow.load(tx_id))
    languages = page_languages()
    languages.candidates = locale_candidates(sign_in.transaction)
    organization = sign_in.organization
    languages.defaults = [
        organization.default_locale if organization is not None else None,
        tenant.default_locale,
    ]
    return sign_in


def load_sign_in() -> None:
    """Before the views of the hosted pages: the sign-in, its brand and languages."""
    current_sign_in()


def open_sign_in(
    tenant: Tenant, transaction: LoginTransaction | None, client: Client | None = None
) -> SignIn:
    """Make ``transaction`` the request's sign-in (its application looked up unless given)."""
    if client is None and transaction is not None and transaction.client_id:
        client = tenant_client(tenant.id, transaction.client_id)
    sign_in = SignIn(tenant, transaction, client, organization_for(tenant, transaction))
    setattr(g, _SIGN_IN, sign_in)
    return sign_in


def organization_for(tenant: Tenant, tx: LoginTransaction | None) -> Organization | None:
    """The transaction's organization (checked against the tenant), else the vanity host's."""
    if tx is not None and tx.organization_id:
        return organization_of(tenant, tx.organization_id)
    return vanity_organization()


def locale_candidates(tx: LoginTransaction | None) -> list[str | None]:
    """ui_locales, then the language picked on the page, then the signed-in user's.

    A language picked on the page after this sign-in started comes first: the user saw the
    page in the application's language and chose another.
    """
    hint = tx.locale_hint if tx is not None else None
    choice = page_choice()
    candidates: list[str | None] = [hint, choice]
    if tx is not None and choice and page_choice_time() >= tx.created_at:
        candidates = [choice, hint]
    sso = current_sso()
    if sso is not None:
        candidates.append(sso.user.locale)
    return candidates
