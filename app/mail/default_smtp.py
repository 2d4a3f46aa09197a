"""Builtin ``deliver_email``: send through the SMTP server of ``FOYER_SMTP_URL`` (trylast).

``smtp://host:port`` sends in clear (a local relay), ``smtp+starttls://`` upgrades with
STARTTLS, ``smtps://`` uses TLS from the start; ``user:password@`` in the URL logs in. With
no URL set, this plugin delivers nothing and another ``deliver_email`` plugin must.
"""

from __future__ import annotations

import email.message
import smtplib
import ssl
from email.utils import formatdate
from email.utils import make_msgid
from urllib.parse import unquote
from urllib.parse import urlsplit

from flask import current_app

from app.hooks import time_left
from app.hookspecs import hookimpl
from app.mail.message import EmailMessage
from app.mail.message import sender_domain

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


def build_mime(message: EmailMessage, sender: str) -> email.message.EmailMessage:
    mime = email.message.EmailMessage()
    mime["From"] = message.sender or sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(usegmt=True)  # required by RFC 5322; not every relay adds it
    mime["Message-ID"] = message.message_id or make_msgid(
        domain=sender_domain(message.sender or sender)
    )
    if message.reply_to:
        mime["Reply-To"] = message.reply_to
    mime.set_content(message.text)
    if message.html:
        mime.add_alternative(message.html, subtype="html")
    return mime


@hookimpl(trylast=True)
def deliver_email(message: EmailMessage) -> bool | None:
    settings = current_app.extensions["foyer.settings"]
    if not settings.smtp_url:
        return None
    url = urlsplit(settings.smtp_url)
    if url.scheme not in SCHEMES or not url.hostname:
        raise ValueError("FOYER_SMTP_URL must be smtp://, smtp+starttls:// or smtps://host")
    port = url.port or SCHEMES[url.scheme]
    timeout = time_left(30.0)
    smtp: smtplib.SMTP
    if url.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(
            url.hostname, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(url.hostname, port, timeout=timeout)
    with smtp:
        if url.scheme == "smtp+starttls":
            smtp.starttls(context=ssl.create_default_context())
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(build_mime(message, settings.mail_from))
    return True
