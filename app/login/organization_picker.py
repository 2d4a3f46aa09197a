"""The organization picker: the user says which organization they sign in to.

Shown when nothing else decided and an organization is needed (the application requires
one, or only organizations' own connections could serve the identifier), or when the user
follows "Sign in with your organization" from page 1. Tenants choose the form in
``hrd.organization_picker``: ``list``, a searchable list of the tenant's organizations, or
``name`` (the default, which does not show the customer list): "enter your organization's
name". The organization last signed in to on this device (a cookie) is offered first.

Choosing is recorded as the ``user_choice`` step of the trace; an organization chosen by
the application, host or path is not the user's to change, so the picker is not offered.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask import redirect
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from app.branding.pages import render_page
from app.connections.services import enables
from app.db import session
from app.errors import error_page
from app.hrd.chain import CHOSE
from app.hrd.chain import Step
from app.hrd.request_stage import organizations_allowed
from app.hrd.request_stage import resolve_request
from app.login import discovery
from app.login import flow
from app.login import last_organization
from app.login.context import current_sign_in
from app.login.discovery import begin_login
from app.login.identify import submit_identifier
from app.orgs.models import Organization
from app.orgs.privacy import TooManyGuesses
from app.orgs.privacy import guarded_lookup
from app.orgs.privacy import list_is_public
from app.orgs.services import find_organization_by_name
from app.security.limits import count_submission
from app.textsearch import narrowed
from app.textsearch import unindexed

if t.TYPE_CHECKING:
    from app.login.context import SignIn
    from app.tenancy.models import Tenant

LIST_SIZE = 20
"""Organizations shown at once in list mode; a search narrows the rest."""
SEARCH_MAX_LENGTH = 100


class OrganizationNameForm(FlaskForm):  # type: ignore[misc]
    """``name`` mode: the organization's name, as the user knows it."""

    organization_name = StringField(
        _l("Organization name"),
        validators=[
            DataRequired(message=_l("Enter the name of your organization.")),
            Length(max=SEARCH_MAX_LENGTH, message=_l("Use at most %(max)d characters.")),
        ],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )


def picker_mode(tenant: Tenant) -> str:
    """``list`` or ``name`` (tenant setting ``hrd.organization_picker``)."""
    return "list" if list_is_public(tenant) else "name"


def search(tenant: Tenant, query: str, limit: int) -> list[Organization]:
    """Organizations whose display name or name contains ``query`` (case-insensitive),
    found through trigram indexes (PostgreSQL's pg_trgm, SQLite's: :mod:`app.textsearch`)
    when it has three characters or more; a shorter query reads them all."""
    statement = sa.select(Organization).where(Organization.tenant_id == tenant.id)
    if query:
        lowered = query.lower()
        escaped = lowered.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        statement = narrowed(statement, Organization.__table__, lowered).where(
            sa.or_(
                unindexed(sa.func.lower(Organization.display_name)).like(pattern, escape="\\"),
                unindexed(Organization.name).like(pattern, escape="\\"),
            )
        )
    statement = statement.order_by(Organization.display_name, Organization.name).limit(limit)
    return list(session.scalars(statement))


def find_by_name(tenant: Tenant, value: str) -> Organization | None:
    """What a user typed: the organization's name (slug) or its display name, any case."""
    value = value.strip()
    found = find_organization_by_name(tenant, value.lower())
    if found is not None:
        return found
    matches = session.scalars(
        sa.select(Organization)
        .where(
            Organization.tenant_id == tenant.id,
            sa.func.lower(Organization.display_name) == value.lower(),
        )
        .limit(2)
    ).all()
    return matches[0] if len(matches) == 1 else None


def organization() -> Response | tuple[str, int]:
    sign_in = current_sign_in()
    tenant, tx = sign_in.tenant, sign_in.transaction
    if tx is None:
        if request.args.get("tx") or request.method == "POST":
            return error_page("login_expired")
        tx = begin_login(tenant, resolve_request(tenant, None, {}))
        return redirect(url_for(".organization", tx=tx.id))
    if tx.completed:
        return error_page("login_expired")
    if tx.organization_from_request or not organizations_allowed(sign_in.client):
        return redirect(url_for(".identifier", tx=tx.id))
    mode = picker_mode(tenant)
    form = OrganizationNameForm()
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
        chosen: Organization | None = None
        how = mode
        if "organization" in request.form:  # a button (CSRF is checked for every POST)
            value = (request.form.get("organization") or "")[:SEARCH_MAX_LENGTH]
            chosen = find_organization_by_name(tenant, value)
            last = last_organization.recall(tenant)
            if chosen is not None and last is not None and chosen.id == last.id:
                how = "last used"
            elif mode != "list":
                chosen = None  # name mode lists nothing: its one button is the last one used
        elif not form.validate():
            return picker_page(sign_in, form, mode, 400)
        else:
            try:  # a name typed: unknown ones count against the address
                chosen = guarded_lookup(
                    tenant, lambda: find_by_name(tenant, form.organization_name.data)
                )
            except TooManyGuesses as refused:
                return refused.page()
        if chosen is None:
            errors = [
                _("We could not find that organization. Check its name, or ask your administrator.")
            ]
            return picker_page(sign_in, form, mode, 400, errors)
        return choose(sign_in, chosen, how)
    return picker_page(sign_in, form, mode)


def picker_page(
    sign_in: SignIn,
    form: OrganizationNameForm,
    mode: str,
    status: int = 200,
    errors: list[str] | None = None,
) -> tuple[str, int]:
    tenant, tx = sign_in.tenant, sign_in.transaction
    assert tx is not None
    query = (request.args.get("q") or "").strip()[:SEARCH_MAX_LENGTH] if mode == "list" else ""
    found = search(tenant, query, LIST_SIZE + 1) if mode == "list" else []
    return render_page(
        "login/organization.html",
        status,
        form=form,
        errors=errors or [],
        mode=mode,
        query=query,
        organizations=found[:LIST_SIZE],
        more=len(found) > LIST_SIZE,
        last=last_organization.recall(tenant),
        needed=bool(request.args.get("needed")),
        identifier=tx.identifier,
        back_url=None
        if tx.identifier or discovery.organization_required(sign_in.client, tx)
        else url_for(".identifier", tx=tx.id),
    )


def choose(sign_in: SignIn, chosen: Organization, how: str) -> Response | tuple[str, int]:
    """Bind the sign-in to ``chosen``; continue with the identifier already typed, if any."""
    tenant, tx = sign_in.tenant, sign_in.transaction
    assert tx is not None
    fixed_connection = discovery.connection_of(tenant, tx.fixed_connection_id)
    if fixed_connection is not None and not enables(chosen, fixed_connection):
        return error_page(
            "access_denied",
            detail=_(
                "%(organization)s does not sign in through this application's connection.",
                organization=chosen.display_name,
            ),
            reason="connection_not_enabled",
        )
    tx.fixed_organization_id = chosen.id
    flow.record_decisions(
        tx, [Step("user_choice", CHOSE, f"picker ({how})", chosen, fixed_connection)]
    )
    sign_in.organization = chosen
    flow.save(tx)
    if tx.identifier:  # identifier first: route what the user already typed, in this organization
        return submit_identifier(sign_in, tx.identifier)
    return redirect(url_for(".identifier", tx=tx.id), code=303)
