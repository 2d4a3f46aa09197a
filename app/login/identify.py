"""Page 1 of the hosted login, once submitted: who is signing in, and where that leads.

The identifier goes through home realm discovery (:mod:`app.login.discovery`); the answer
is the password page, the upstream IdP of a redirecting connection, the organization
picker, or this page again with what went wrong.
"""

from __future__ import annotations

import typing as t

from flask import redirect
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.branding.pages import render_page
from app.connections.services import redirect_connections
from app.connections.strategies import StrategyUnavailable
from app.connections.strategies import kind_of
from app.errors import error_page
from app.errors import unavailable_page
from app.hrd.request_stage import organizations_allowed
from app.login import discovery
from app.login import flow
from app.login import upstream
from app.login.forms import IdentifierForm
from app.orgs.services import has_organizations

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.login.context import SignIn


def identifier_page(
    sign_in: SignIn,
    form: IdentifierForm,
    status: int = 200,
    errors: list[str] | None = None,
) -> tuple[str, int]:
    """Page 1, with a button per upstream IdP of the organization, and a link to the
    organization picker when the organization is still the user's to choose."""
    tx = sign_in.transaction
    assert tx is not None
    choosable = (
        not tx.organization_from_request
        and organizations_allowed(sign_in.client)
        and has_organizations(sign_in.tenant)
    )
    return render_page(
        "login/identifier.html",
        status,
        form=form,
        errors=errors or [],
        upstream_connections=redirect_connections(sign_in.organization),
        organization_picker_url=url_for(".organization", tx=tx.id) if choosable else None,
    )


def submit_identifier(sign_in: SignIn, value: str) -> Response | tuple[str, int]:
    """Route the identifier (home realm discovery), then continue where it leads."""
    tx = sign_in.transaction
    assert tx is not None
    tx.identifier = value
    try:
        connection = discovery.choose_connection(sign_in.tenant, sign_in.client, tx, value)
    except discovery.OrganizationNeeded:
        flow.save(tx)
        return redirect(url_for(".organization", tx=tx.id, needed=1), code=303)
    except discovery.NoConnection:
        flow.save(tx)
        sign_in.reload_organization()
        if redirect_connections(sign_in.organization):
            return identifier_page(
                sign_in,
                IdentifierForm(formdata=None, identifier=value),
                400,
                errors=[_("Choose how to sign in: use one of the buttons below.")],
            )
        return error_page("no_connection")
    except StrategyUnavailable as error:
        return unavailable_page(error)
    flow.save(tx)
    return continue_with(sign_in, connection)


def continue_with(sign_in: SignIn, connection: Connection) -> Response:
    """After discovery: the password page, or the upstream IdP of a redirecting connection."""
    if kind_of(connection) == "redirect":
        return upstream.start(sign_in, connection)
    assert sign_in.transaction is not None
    return redirect(url_for(".password", tx=sign_in.transaction.id), code=303)
