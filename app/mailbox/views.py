"""``/_mailbox/``: the development mailbox, every email Foyer sent from this tenant, read
from the outbox, with its links working (a reset, a verification or an invitation can be
finished in the browser).

Only when ``FOYER_DEV_MAILBOX`` is on (``foyer demo`` turns it on) or Flask runs in debug
mode; otherwise every address under it is the 404 page. Anyone who can open it reads
every email, links included: never turn it on in production.
"""

from __future__ import annotations

import re
import typing as t

import sqlalchemy as sa
from flask import Blueprint
from flask import make_response
from flask_babel import format_datetime
from markupsafe import Markup
from markupsafe import escape
from werkzeug.wrappers import Response

from app.branding.pages import render_page
from app.db import session
from app.errors import error_page
from app.hookspecs import hookimpl
from app.mail.models import OutgoingMail
from app.mail.outbox import mailbox_enabled
from app.mail.outbox import message_of
from app.tenancy.resolve import current_tenant

bp = Blueprint("mailbox", __name__, url_prefix="/_mailbox")

SHOWN = 200
"""The newest emails listed."""
LINK = re.compile(r"https?://[^\s<>\"']+")
HTML_CSP = (
    "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox "
    "allow-top-navigation-by-user-activation"
)
"""An email's HTML runs no script, loads only images, and opens its links in the page."""


def _row(mail_id: str) -> OutgoingMail | None:
    row = session.get(OutgoingMail, mail_id) if len(mail_id) <= 40 else None
    if row is None or row.tenant_id != current_tenant().id:
        return None
    return row


def linkify(text: str) -> Markup:
    """The text with each http(s) address made a link (everything else escaped)."""
    out: list[str] = []
    position = 0
    for match in LINK.finditer(text):
        out.append(str(escape(text[position : match.start()])))
        url = escape(match.group(0))
        out.append(f'<a href="{url}" dir="ltr">{url}</a>')
        position = match.end()
    out.append(str(escape(text[position:])))
    return Markup("".join(out))


@bp.route("/")
def inbox() -> Response | tuple[str, int]:
    if not mailbox_enabled():
        return error_page("not_found")
    rows = session.scalars(
        sa.select(OutgoingMail)
        .where(OutgoingMail.tenant_id == current_tenant().id)
        .order_by(OutgoingMail.created_at.desc())
        .limit(SHOWN)
    ).all()
    mails = [
        {
            "id": row.id,
            "to": row.recipient,
            "subject": row.subject,
            "status": row.status,
            "when": format_datetime(row.created_at, "short"),
        }
        for row in rows
    ]
    return render_page("mailbox/inbox.html", mails=mails)


@bp.route("/<mail_id>")
def read(mail_id: str) -> Response | tuple[str, int]:
    if not mailbox_enabled():
        return error_page("not_found")
    row = _row(mail_id)
    if row is None:
        return error_page("not_found")
    message = message_of(row)
    return render_page(
        "mailbox/message.html",
        mail={
            "id": row.id,
            "to": row.recipient,
            "subject": row.subject,
            "status": row.status,
            "when": format_datetime(row.created_at, "medium"),
            "sender": message.sender if message else None,
            "reply_to": message.reply_to if message else None,
            "text": linkify(message.text) if message else None,
            "has_html": bool(message and message.html),
        },
    )


@bp.route("/<mail_id>/html")
def html(mail_id: str) -> Response:
    """The email's HTML part on its own, for the frame of the reading page."""
    if not mailbox_enabled():
        return error_page("not_found")
    row = _row(mail_id)
    message = message_of(row) if row is not None else None
    if message is None or not message.html:
        return error_page("not_found")
    body = message.html
    base = '<base target="_top">'
    body = body.replace("<head>", "<head>" + base, 1) if "<head>" in body else base + body
    response = make_response(body)
    response.headers["Content-Security-Policy"] = HTML_CSP
    response.headers["Cache-Control"] = "no-store"
    return t.cast(Response, response)


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [bp]
