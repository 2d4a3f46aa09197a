"""An email ready to send, as ``deliver_email`` plugins receive it."""

from __future__ import annotations

import dataclasses
from email.utils import parseaddr


@dataclasses.dataclass(frozen=True)
class EmailMessage:
    """A rendered email. Links in it are built from the tenant's domains, never a request."""

    to: str
    subject: str
    text: str
    html: str | None = None
    purpose: str = ""
    """What it is for: ``password_reset``, ``password_changed``, ``email_verification``,
    ``signup_code``, ``signup_attempt``, ``invitation``, ``account_blocked``,
    ``login_blocked``, ``link_code``, ``test``."""
    sender: str | None = None
    """The From address; None lets the delivering plugin use its configured one."""
    reply_to: str | None = None
    message_id: str | None = None
    """The ``Message-ID`` header (``<...@domain>``), the same on every attempt to send this
    email: a mail system that got it twice (a retry after an answer that came too late) can
    keep one. None lets the delivering plugin make one."""


def sender_domain(sender: str) -> str:
    """The domain of a From address (``Acme <no-reply@acme.test>``: ``acme.test``), the
    right-hand side of the Message-IDs Foyer makes."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"
