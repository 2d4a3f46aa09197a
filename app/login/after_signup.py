"""The step after a sign-up: the sign-in that the sign-up interrupted goes on, signed in.

The sign-up (:mod:`app.accounts.views`) created the account once the code emailed to the
address was entered in this browser, and leaves a short-lived proof in the browser's signed
session (:func:`app.accounts.signup.signed_up_proof`). Here that proof counts as the
password step of this sign-in only: login rules, required two-step verification and consent
still run. Without a fresh proof for this very sign-in, the usual sign-in page asks.
"""

from __future__ import annotations

from flask import redirect
from flask import session as cookie
from flask import url_for
from werkzeug.wrappers import Response

from app.accounts.signup import SIGNED_UP_KEY
from app.accounts.signup import signed_up_user
from app.connections.models import Connection
from app.db import session
from app.errors import error_page
from app.login import steps
from app.login.context import current_sign_in
from app.login.context import open_sign_in


def signed_up() -> Response | tuple[str, int]:
    """Sign in the account this browser just created, for the sign-in ``tx``."""
    sign_in = current_sign_in()
    tx = sign_in.transaction
    proof = cookie.pop(SIGNED_UP_KEY, None)  # used once, whatever follows
    if tx is None or tx.completed:
        return error_page("login_expired")
    user = signed_up_user(proof, tx.id, sign_in.tenant.id)
    connection = session.get(Connection, user.connection_id) if user is not None else None
    if user is None or connection is None:
        return redirect(url_for("login.identifier", tx=tx.id), code=303)
    organization_id = proof.get("organization") if isinstance(proof, dict) else None
    if tx.organization_id is None and isinstance(organization_id, str):
        tx.organization_id = organization_id  # signed up on that organization's page
        sign_in = open_sign_in(sign_in.tenant, tx, sign_in.client)
    tx.identifier = user.email
    return steps.authenticated(sign_in, user, connection, ["pwd"])
