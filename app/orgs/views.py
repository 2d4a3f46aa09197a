"""The invitation acceptance page (``/invitation?token=...``).

A new invitee chooses a password (and a name) and gets an account in the organization's
connection; someone who already has an account there proves it with their password and is
added as a member. Either way no sign-in follows: the page then leads to the sign-in, so
two-step verification and login rules apply as to any sign-in.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint
from flask import redirect
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.accounts import protection
from app.accounts import tokens
from app.accounts.forms import AcceptInvitationForm
from app.accounts.forms import TokenAndPasswordForm
from app.accounts.services import PasswordRejected
from app.accounts.services import check_password_policy
from app.accounts.views import link_invalid
from app.branding.pages import render_page
from app.branding.pages import show_organization
from app.errors import error_page
from app.events.record import record_event
from app.i18n import page_languages
from app.orgs import invitations
from app.orgs.models import Organization
from app.orgs.privacy import TooManyGuesses
from app.orgs.privacy import guarded_lookup
from app.orgs.services import find_organization
from app.security.limits import count_submission
from app.tenancy.resolve import current_tenant
from app.tenancy.services import SLUG

bp = Blueprint("orgs", __name__)


def _brand_for(organization: Organization, locale: str | None) -> None:
    show_organization(organization)
    languages = page_languages()
    languages.candidates.append(locale)
    languages.defaults = [organization.default_locale, current_tenant().default_locale]


@bp.route("/invitation", methods=["GET", "POST"])
def accept_invitation() -> Response | tuple[str, int]:
    tenant = current_tenant()
    value = request.form.get("token") if request.method == "POST" else request.args.get("token")
    found = invitations.pending_by_token(tenant, value)
    if found is None:
        return link_invalid(tokens.INVITATION)
    _row, invitation = found
    organization = invitation.organization
    _brand_for(organization, invitation.locale)
    if invitations.target_connection(organization) is None:
        return error_page("no_connection")
    assert value is not None
    existing = invitations.existing_user(invitation)
    context: dict[str, t.Any] = {
        "invitation": invitation,
        "organization_name": invitations.display_name(organization),
    }
    if existing is not None:
        join = TokenAndPasswordForm()
        if request.method == "POST":
            count_submission("rate_limit_login", "login")
            if join.validate():
                if existing.blocked or not protection.current_password_matches(
                    tenant, existing, join.password.data
                ):
                    record_event(
                        "invitation_failed",
                        tenant=tenant,
                        organization=organization,
                        user_id=existing.id,
                        data={"invitation": invitation.id, "reason": "wrong_password"},
                    )
                    join.password.errors.append(_("Wrong password."))
                elif invitations.accept_as_existing_user(tenant, value, invitation, existing):
                    return redirect(
                        url_for(".invitation_accepted", org=organization.name), code=303
                    )
                else:
                    return link_invalid(tokens.INVITATION)
            join.token.data = value
            return render_page(
                "orgs/accept_invitation.html", 400, form=join, existing=True, **context
            )
        join.token.data = value
        return render_page("orgs/accept_invitation.html", form=join, existing=True, **context)

    form = AcceptInvitationForm()
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
        if form.validate():
            try:
                check_password_policy(
                    form.new_password.data,
                    tenant=tenant,
                    organization=organization,
                    email=invitation.email,
                    names=[form.name.data],
                )
            except PasswordRejected as rejected:
                form.new_password.errors.append(str(rejected))
            else:
                user = invitations.accept_as_new_user(
                    tenant, value, invitation, form.new_password.data, form.name.data or None
                )
                if user is None:
                    return link_invalid(tokens.INVITATION)
                return redirect(url_for(".invitation_accepted", org=organization.name), code=303)
        form.token.data = value
        return render_page("orgs/accept_invitation.html", 400, form=form, existing=False, **context)
    form.token.data = value
    return render_page("orgs/accept_invitation.html", form=form, existing=False, **context)


@bp.route("/invitation/accepted")
def invitation_accepted() -> Response | tuple[str, int]:
    """Welcome: the account is ready; sign in to the organization."""
    tenant = current_tenant()
    name = request.args.get("org") or ""
    organization = None
    if SLUG.match(name):
        try:  # the page shows a known name's brand: unknown ones count as guesses
            organization = guarded_lookup(tenant, lambda: find_organization(tenant, name))
        except TooManyGuesses as refused:
            return refused.page()
    if organization is not None:
        show_organization(organization)
    return render_page("orgs/invitation_accepted.html")
