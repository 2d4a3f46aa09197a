"""Whose page a request shows, and rendering a hosted page with it.

A hosted page (sign-in, account, invitation, error) carries the brand of an organization
and of the application being signed in to. The view that knows them says so once with
:func:`show_page` (the sign-in does it for its pages, an emailed link for its
organization); the theme, the brand, the template hooks and :func:`render_page` then read
:func:`page_subject`. Without a view saying so, the page is the host's (a vanity host's
organization, else the tenant's).
"""

from __future__ import annotations

import dataclasses
import typing as t

from flask import g
from flask import render_template

from app.tenancy.resolve import current_tenant

if t.TYPE_CHECKING:
    from app.branding.context import Brand
    from app.clients.models import Client
    from app.orgs.models import Organization

_SUBJECT = "foyer_page"


class PageTransaction(t.Protocol):
    """The sign-in a page belongs to, as pages see it: its id goes in their links (``tx``)."""

    @property
    def id(self) -> str: ...

    @property
    def identifier(self) -> str | None: ...


@dataclasses.dataclass
class PageSubject:
    """Whose page this request shows."""

    organization: Organization | None = None
    client: Client | None = None
    """The application being signed in to, or None."""
    transaction: PageTransaction | None = None
    """The sign-in the page belongs to, or None."""
    theme_name: str | None = None
    """The theme: chosen once per request from the above, unless the view forces one."""
    brand: Brand | None = None
    """The brand, built once per request."""


def page_subject() -> PageSubject:
    """This request's: what a view showed, else the host's (never aborts)."""
    g = request_globals()
    subject = g.get(_SUBJECT)
    if subject is not None:
        return t.cast(PageSubject, subject)
    domain = g.get("tenant_domain")
    subject = PageSubject(organization=domain.organization if domain is not None else None)
    if domain is not None:  # the host is known: what it says holds for the whole request
        setattr(g, _SUBJECT, subject)
    return subject


def request_globals() -> t.Any:
    """This app context's ``g`` itself, taken from behind Flask's proxy once: each attribute
    looked up on the proxy costs microseconds (a failed lookup, then ``__getattr__``), and
    the theme is looked up on every template a page loads."""
    return g._get_current_object()


def show_page(
    organization: Organization | None,
    client: Client | None = None,
    transaction: PageTransaction | None = None,
    theme_name: str | None = None,
) -> PageSubject:
    """Make this request's pages those of ``organization`` (and of the application and
    sign-in); the theme and brand are chosen again."""
    subject = PageSubject(organization, client, transaction, theme_name)
    setattr(request_globals(), _SUBJECT, subject)
    return subject


def show_organization(organization: Organization) -> PageSubject:
    """This request's page, for ``organization`` (an emailed link's, an invitation's)."""
    subject = page_subject()
    return show_page(organization, subject.client, subject.transaction)


def swap_page_subject(subject: PageSubject | None) -> PageSubject | None:
    """Put ``subject`` in place (None: the host's again); returns the one it replaces."""
    g = request_globals()
    previous = t.cast("PageSubject | None", g.get(_SUBJECT))
    if subject is None:
        g.pop(_SUBJECT, None)
    else:
        setattr(g, _SUBJECT, subject)
    return previous


def render_page(template: str, status: int = 200, **context: t.Any) -> tuple[str, int]:
    """A hosted page: ``template`` with the request's tenant, organization, application
    (``client``) and sign-in (``tx``), and no errors unless given."""
    subject = page_subject()
    context.setdefault("errors", [])
    return (
        render_template(
            template,
            tenant=current_tenant(),
            organization=subject.organization,
            client=subject.client,
            tx=subject.transaction,
            **context,
        ),
        status,
    )
