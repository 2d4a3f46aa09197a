"""``/hrd/explain``: the discovery debug page for support staff, off by default.

It exists only when ``FOYER_HRD_DEBUG_TOKEN`` is set (otherwise every request gets the
404 page), and answers only a POST carrying that token (compared in constant time, rate
limited like a password form, each use logged as ``hrd_explained``). It shows, for the
tenant of the host it is opened on, the steps of :func:`app.hrd.explain.explain`.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint
from flask import current_app
from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from app.errors import error_page
from app.events.record import record_event
from app.hookspecs import hookimpl
from app.hrd.explain import ExplainInvalid
from app.hrd.explain import explain
from app.security.crypto import constant_time_equal
from app.security.limits import limit
from app.security.limits import limiter
from app.tenancy.resolve import current_tenant

bp = Blueprint("hrd_debug", __name__, url_prefix="/hrd")


def _optional(label: t.Any, length: int) -> StringField:
    return StringField(
        label,
        validators=[Optional(), Length(max=length)],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
    )


class ExplainForm(FlaskForm):  # type: ignore[misc]
    token = PasswordField(_l("Support token"), validators=[InputRequired(), Length(max=512)])
    identifier = _optional(_l("Identifier the user types"), 320)
    host = _optional(_l("Host name"), 253)
    path = _optional(_l("Organization in the /o/ path"), 63)
    client_id = _optional(_l("Application (client_id)"), 64)
    organization = _optional(_l("organization parameter"), 100)
    connection = _optional(_l("connection parameter"), 100)


@bp.route("/explain", methods=["GET", "POST"])
def explain_page() -> Response | str:
    expected = current_app.extensions["foyer.settings"].hrd_debug_token
    if not expected:
        return error_page("not_found")
    tenant = current_tenant()
    form = ExplainForm()
    if not form.validate_on_submit():
        return render_template("hrd/explain.html", form=form, tenant=tenant, result=None, errors=[])
    with limiter().shared_limit(limit("rate_limit_login"), scope="hrd_explain"):
        pass
    if not constant_time_equal(form.token.data, expected):
        record_event("hrd_explained", tenant=tenant, data={"refused": "wrong_token"})
        return error_page("access_denied", detail=_("The support token is not valid."))
    params = {
        name: getattr(form, name).data
        for name in ("organization", "connection")
        if getattr(form, name).data
    }
    errors: list[str] = []
    result = None
    try:
        result = explain(
            tenant,
            host=form.host.data or None,
            path_organization=form.path.data or None,
            params=params,
            client_id=form.client_id.data or None,
            identifier=form.identifier.data or None,
        )
    except ExplainInvalid as exc:
        errors.append(str(exc))
    record_event(
        "hrd_explained",
        tenant=tenant,
        data={
            "identifier": form.identifier.data or "",
            "host": form.host.data or "",
            "path": form.path.data or "",
            "client_id": form.client_id.data or "",
            "params": params,
            "outcome": result.outcome if result else "invalid",
        },
    )
    return render_template(
        "hrd/explain.html", form=form, tenant=tenant, result=result, errors=errors
    )


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [bp]
