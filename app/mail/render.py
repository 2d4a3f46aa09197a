"""Rendering emails from templates, in the recipient's language and the organization's brand.

Each email is a pair of templates, ``mail/<name>.html`` and ``mail/<name>.txt``, extending
``mail/layout.html`` / ``mail/layout.txt``; the subject is the ``subject`` block of the text
template. They go through the same theme loader as the pages, so a theme overrides
``mail/*`` like any page, and through Flask-Babel in the recipient's locale (the user's,
else the organization's, else the tenant's default). Links are built by the callers from
``Tenant.base_url``, never from a request.
"""

from __future__ import annotations

import contextlib
import email.utils
import typing as t
from urllib.parse import urljoin

from flask import current_app
from flask import has_request_context
from flask import render_template
from flask_babel import force_locale

from app.branding.context import build_brand
from app.branding.context import safe_email
from app.branding.context import theme_name_for
from app.branding.pages import PageSubject
from app.branding.pages import swap_page_subject
from app.i18n import _supported
from app.mail.message import EmailMessage

if t.TYPE_CHECKING:
    from app.branding.context import Brand
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

SENDER_NAME_MAX = 100


def recipient_locale(
    user_locale: str | None,
    organization: Organization | None,
    tenant: Tenant,
) -> str:
    """The first supported locale of: the user's, the organization's, the tenant's default."""

    for candidate in (
        user_locale,
        organization.default_locale if organization is not None else None,
        tenant.default_locale,
    ):
        match = _supported(candidate or "")
        if match:
            return match
    return t.cast(str, current_app.extensions["foyer.settings"].default_locale)


@contextlib.contextmanager
def email_context(
    tenant: Tenant, organization: Organization | None, locale: str
) -> t.Iterator[Brand]:
    """Render templates as for a page of ``organization``'s theme, in ``locale``.

    Outside a request (the CLI) a request context on the tenant's canonical URL is pushed;
    inside one, the request's theme and brand are swapped for the email's and put back.
    """

    pushed = None
    if not has_request_context():
        pushed = current_app.test_request_context("/", base_url=tenant.base_url)
        pushed.push()
    try:
        theme = theme_name_for(tenant, organization)
        brand = build_brand(tenant, organization, theme)
        saved = swap_page_subject(PageSubject(organization, theme_name=theme, brand=brand))
        try:
            with force_locale(locale):
                yield brand
        finally:
            swap_page_subject(saved)
    finally:
        if pushed is not None:
            pushed.pop()


def render_email(
    name: str,
    *,
    to: str,
    tenant: Tenant,
    organization: Organization | None = None,
    locale: str | None = None,
    purpose: str = "",
    **context: t.Any,
) -> EmailMessage:
    """Render ``mail/<name>.{txt,html}`` for ``to``; ``context`` goes to both templates.

    :param locale: The recipient's saved locale, if any (organization and tenant defaults
        follow). The templates also see ``tenant``, ``organization``, ``brand`` (with
        absolute logo URL as ``logo_url``), ``base_url`` and ``recipient``.
    """
    chosen = recipient_locale(locale, organization, tenant)
    with email_context(tenant, organization, chosen) as brand:
        values = {
            **context,
            "tenant": tenant,
            "organization": organization,
            "base_url": tenant.base_url,
            "recipient": to,
            "logo_url": _absolute(tenant.base_url, brand.logo_url),
            "email_locale": chosen,
        }
        text = render_template(f"mail/{name}.txt", **values)
        html = render_template(f"mail/{name}.html", **values)
        subject = _subject(f"mail/{name}.txt", values)
    sender_name, reply_to = sender_for(brand)
    return EmailMessage(
        to=to,
        subject=subject,
        text=text,
        html=html,
        purpose=purpose or name,
        sender=sender_name,
        reply_to=reply_to,
    )


def _subject(template_name: str, values: dict[str, t.Any]) -> str:
    """The ``subject`` block of the text template, on one line (no header injection)."""
    env = current_app.jinja_env
    template = env.get_template(template_name)
    block = template.blocks.get("subject")
    if block is None:
        return ""
    context = template.new_context(_template_context(values))
    subject = "".join(block(context))
    return " ".join(subject.split())[:200]


def _template_context(values: dict[str, t.Any]) -> dict[str, t.Any]:
    """The values plus what Flask's context processors add to every template."""
    context = dict(values)
    current_app.update_template_context(context)
    return context


def _absolute(base_url: str, url: str | None) -> str | None:
    if not url:
        return None
    return urljoin(base_url + "/", url)


def sender_for(brand: Brand) -> tuple[str | None, str | None]:
    """(From header, Reply-To) from the brand: its ``email_sender_name`` (default: its
    name) on the configured address, and ``email_reply_to`` when it is an address.

    Both are data set by admins: line breaks are removed and the address validated again
    here, so nothing reaches the mail headers but one name and one address.
    """

    name = " ".join(str(brand.sender_name or "").split())[:SENDER_NAME_MAX]
    configured = current_app.extensions["foyer.settings"].mail_from
    _configured_name, address = email.utils.parseaddr(configured)
    sender = email.utils.formataddr((name, address)) if name and address else None
    return sender, safe_email(brand.email_reply_to)
