"""The last organization signed in to on this device, offered first by the picker.

A signed cookie of its own (not the session), so it survives signing out; it holds only
ids, bound to the tenant, and is ignored when it no longer names an organization of the
tenant of the request.
"""

from __future__ import annotations

import typing as t

from flask import current_app
from flask import request
from itsdangerous import BadSignature
from itsdangerous import URLSafeSerializer

from app.db import session
from app.orgs.models import Organization

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from app.tenancy.models import Tenant

COOKIE = "foyer_last_org"
MAX_AGE = 400 * 24 * 3600
"""Browsers cap cookie lifetimes at 400 days."""


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="foyer.last-organization")


def remember(response: Response, organization: Organization) -> Response:
    """Set the cookie on ``response`` (after a sign-in to ``organization``)."""
    value = _serializer().dumps({"t": organization.tenant_id, "o": organization.id})
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE,
        path="/",
        secure=bool(current_app.extensions["foyer.settings"].secure_cookies),
        httponly=True,
        samesite="Lax",
    )
    return response


def recall(tenant: Tenant) -> Organization | None:
    """The organization the cookie names, if it still is one of ``tenant``."""
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 512:
        return None
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("t") != tenant.id:
        return None
    if not isinstance(data.get("o"), str):
        return None
    organization = session.get(Organization, data["o"])
    if organization is None or organization.tenant_id != tenant.id:
        return None
    return organization
