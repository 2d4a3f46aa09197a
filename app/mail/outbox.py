"""Durable outgoing mail: :func:`queue_email` writes a row, the worker sends it.

An email is a row of ``outgoing_mail`` from the moment it is rendered: a process that stops
(a deploy, a crash, ``kill -9``) loses nothing, and any worker of any host sends what is
due. :func:`send_due` claims each row with a conditional UPDATE that only one worker can win
(``queued`` and due, or ``sending`` with an expired lease), on SQLite and PostgreSQL alike,
so two workers never send one email twice. A failed delivery is tried again after an
exponential backoff (``FOYER_MAIL_RETRY_SECONDS``, doubling); after
``FOYER_MAIL_MAX_ATTEMPTS`` the row is given up (``dead``) and :data:`mail_given_up` is sent
(the app records an ``email_failed`` event). Delivery itself goes through the
``deliver_email`` hook, as before: SMTP or a plugin.

An email whose server accepted it but whose worker died before writing ``sent`` is sent
again when its lease ends: delivery is at least once, exactly once in every other case.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import typing as t

import blinker
import sqlalchemy as sa
from flask import current_app

from app.db import session
from app.db import utcnow
from app.mail.delivery import send_email
from app.mail.message import EmailMessage
from app.mail.message import sender_domain
from app.mail.models import OutgoingMail
from app.observability.metrics import count_email
from app.observability.metrics import set_email_queue_depth
from app.orgs.models import Organization
from app.security.crypto import decrypt_json
from app.security.crypto import encrypt_json
from app.tenancy.models import Tenant
from app.worker import LEASE as LEASE  # the lease of every queue
from app.worker import WORKER_ID
from app.worker import claim as claim_row
from app.worker import claimable
from app.worker import kick_after_commit
from app.worker import worker_of

log = logging.getLogger(__name__)

"""How long a claimed row is left to its worker (far more than one SMTP conversation)."""
BATCH = 20
MAX_RETRY_DELAY = 6 * 3600.0
"""The backoff never waits longer than this between two attempts."""
PRUNE_EVERY = dt.timedelta(minutes=1)
"""This process's mark on the rows it claims."""

ATTEMPTS = {"sent": 0, "failed": 0, "given_up": 0}
"""Delivery attempts made by this process since it started, by outcome (for metrics)."""
METRIC_RESULTS = {"sent": "sent", "failed": "retried", "given_up": "failed"}
"""An attempt's outcome, as ``foyer_emails_total`` names it."""

mail_given_up = blinker.Signal(
    """Sent with the app as sender and ``tenant_id``, ``organization_id``, ``purpose``,
    ``attempts`` and ``error`` when an email is given up after its last attempt."""
)


def mailbox_enabled() -> bool:
    """The development mailbox is on (``FOYER_DEV_MAILBOX``, or Flask's debug mode)."""
    return bool(current_app.extensions["foyer.settings"].dev_mailbox or current_app.debug)


def queue_email(
    message: EmailMessage, tenant: Tenant, organization: Organization | None = None
) -> OutgoingMail:
    """Add ``message`` to the outbox in the current unit of work; it is sent once that
    commits (the worker is kicked then). Returns the row."""
    row = OutgoingMail(
        tenant_id=tenant.id,
        organization_id=organization.id if organization is not None else None,
        purpose=message.purpose[:32],
        recipient=message.to,
        subject=message.subject[:255],
        body=encrypt_json(
            {
                "text": message.text,
                "html": message.html,
                "sender": message.sender,
                "reply_to": message.reply_to,
            }
        ),
        next_attempt_at=utcnow(),
    )
    session.add(row)
    kick_after_commit(session)
    return row


def message_of(row: OutgoingMail) -> EmailMessage | None:
    """The email a row holds, or None once its body was wiped."""
    if row.body is None:
        return None
    body = decrypt_json(row.body)
    sender = body.get("sender")
    return EmailMessage(
        to=row.recipient,
        subject=row.subject,
        text=body.get("text") or "",
        html=body.get("html"),
        purpose=row.purpose,
        sender=sender,
        reply_to=body.get("reply_to"),
        message_id=message_id(row.id, sender or current_app.extensions["foyer.settings"].mail_from),
    )


def message_id(row_id: str, sender: str) -> str:
    """``<row id@the sender's domain>``: unique (the row's random id) and the same on every
    attempt to send the row."""
    return f"<{row_id}@{sender_domain(sender)}>"


def _claimable(now: dt.datetime) -> sa.ColumnElement[bool]:
    return claimable(OutgoingMail, "sending", now)


def claim(row_id: str, now: dt.datetime) -> bool:
    """Take one row for this worker; False when another worker (or host) has it."""
    return claim_row(OutgoingMail, row_id, "sending", now)


def send_due() -> float | None:
    """The drain of the outbox (run by the worker): send every email that is due, then
    answer how many seconds until the next one is."""
    _prune()
    for _round in range(50):  # rows retried at once (no backoff) are sent in this pass too
        now = utcnow()
        ids = session.scalars(
            sa.select(OutgoingMail.id)
            .where(_claimable(now))
            .order_by(OutgoingMail.next_attempt_at)
            .limit(BATCH)
        ).all()
        session.rollback()  # read only; each claim is its own short transaction
        if not ids:
            break
        for row_id in ids:
            if claim(row_id, now):
                _attempt(row_id)
    set_email_queue_depth(waiting())
    return _next_due()


def waiting() -> int:
    """Emails waiting to be sent (queued, or being sent): the queue-depth gauge."""
    count = session.scalar(
        sa.select(sa.func.count())
        .select_from(OutgoingMail)
        .where(OutgoingMail.status.in_(("queued", "sending")))
    )
    session.rollback()
    return int(count or 0)


def _attempt(row_id: str) -> None:
    """Send one claimed row and record the outcome (only while the claim is still ours)."""
    row = session.get(OutgoingMail, row_id, populate_existing=True)
    if row is None or row.claimed_by != WORKER_ID:
        session.rollback()
        return
    tenant = session.get(Tenant, row.tenant_id)
    organization = session.get(Organization, row.organization_id) if row.organization_id else None
    message = message_of(row)
    settings = current_app.extensions["foyer.settings"]
    sent = False
    if tenant is not None and message is not None:
        sent = send_email(message, tenant, organization)
    values: dict[str, t.Any] = {"attempts": row.attempts + 1, "lease_until": None}
    now = utcnow()
    if sent:
        values.update(status="sent", sent_at=now, last_error=None)
        if not mailbox_enabled():
            values["body"] = None  # its links are live: keep them no longer than needed
    elif message is not None and mailbox_enabled() and not settings.smtp_url:
        values.update(status="held", last_error="no delivery is configured")
    else:
        error = "no plugin delivered it" if tenant is not None else "tenant removed"
        values["last_error"] = error
        if message is None or tenant is None or values["attempts"] >= settings.mail_max_attempts:
            values["status"] = "dead"
        else:
            values["status"] = "queued"
            values["next_attempt_at"] = now + dt.timedelta(
                seconds=retry_delay(values["attempts"], settings.mail_retry_seconds)
            )
    session.execute(
        sa.update(OutgoingMail)
        .where(OutgoingMail.id == row_id, OutgoingMail.claimed_by == WORKER_ID)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    outcome = "sent" if sent else ("given_up" if values.get("status") == "dead" else "failed")
    if values.get("status") != "held":
        ATTEMPTS[outcome] += 1
        count_email(METRIC_RESULTS[outcome])
    if values.get("status") == "dead":
        log.warning("gave up the %s email of tenant %s", row.purpose, row.tenant_id)
        mail_given_up.send(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            tenant_id=row.tenant_id,
            organization_id=row.organization_id,
            purpose=row.purpose,
            attempts=values["attempts"],
            error=values["last_error"],
        )


def retry_delay(attempts: int, base: float) -> float:
    """Seconds before the next attempt after ``attempts`` failures: ``base`` doubled each
    time, with up to 10% jitter (workers of many hosts do not retry in step), capped."""
    if base <= 0:
        return 0.0
    delay = min(MAX_RETRY_DELAY, base * 2 ** (attempts - 1))
    return delay * (1 + random.random() / 10)  # noqa: S311 - jitter, not a secret


def _next_due() -> float | None:
    soonest = session.scalar(
        sa.select(sa.func.min(OutgoingMail.next_attempt_at)).where(OutgoingMail.status == "queued")
    )
    lease = session.scalar(
        sa.select(sa.func.min(OutgoingMail.lease_until)).where(OutgoingMail.status == "sending")
    )
    session.rollback()
    times = [x for x in (soonest, lease) if x is not None]
    if not times:
        return None
    return max(0.0, (min(times) - utcnow()).total_seconds())


_last_prune: dict[str, dt.datetime] = {}


def _prune() -> None:
    """Delete finished rows older than ``FOYER_MAIL_KEEP_DAYS`` (at most once a minute)."""
    now = utcnow()
    key = current_app.extensions["foyer.db"].url
    if key in _last_prune and now - _last_prune[key] < PRUNE_EVERY:
        return
    _last_prune[key] = now
    days = current_app.extensions["foyer.settings"].mail_keep_days
    session.execute(
        sa.delete(OutgoingMail).where(
            OutgoingMail.status.in_(("sent", "held", "dead")),
            OutgoingMail.created_at < now - dt.timedelta(days=days),
        )
    )
    session.commit()


def requeue(row_ids: t.Iterable[str] | None = None, tenant_id: str | None = None) -> int:
    """Queue given-up emails again (``foyer mail retry``); returns how many."""
    query = sa.update(OutgoingMail).where(
        OutgoingMail.status == "dead", OutgoingMail.body.is_not(None)
    )
    if row_ids is not None:
        query = query.where(OutgoingMail.id.in_(list(row_ids)))
    if tenant_id is not None:
        query = query.where(OutgoingMail.tenant_id == tenant_id)
    result = session.execute(
        query.values(status="queued", attempts=0, next_attempt_at=utcnow()).execution_options(
            synchronize_session=False
        )
    )
    kick_after_commit(session)
    session.commit()
    return t.cast(sa.CursorResult[t.Any], result).rowcount


def queue_stats() -> dict[str, t.Any]:
    """What the outbox holds, for metrics and ``foyer mail queue``: rows per status, the
    age in seconds of the oldest email still waiting, and this process's delivery attempts
    by outcome (``sent``, ``failed`` then retried, ``given_up``)."""
    counts = dict(
        session.execute(
            sa.select(OutgoingMail.status, sa.func.count()).group_by(OutgoingMail.status)
        ).all()
    )
    oldest = session.scalar(
        sa.select(sa.func.min(OutgoingMail.created_at)).where(
            OutgoingMail.status.in_(("queued", "sending"))
        )
    )
    session.rollback()
    return {
        "by_status": {
            s: int(counts.get(s, 0)) for s in ("queued", "sending", "sent", "held", "dead")
        },
        "oldest_waiting_seconds": (utcnow() - oldest).total_seconds() if oldest else 0.0,
        "attempts_by_this_process": dict(ATTEMPTS),
    }


def wait_for_outcome(recipient: str, since: dt.datetime, timeout: float = 30.0) -> str | None:
    """For commands: let the worker try the email queued to ``recipient`` since ``since``,
    then answer its status (``sent``, ``held``, ``queued`` for a retry later, ``dead``), or
    None when no email was queued."""
    worker_of(current_app._get_current_object()).wait(timeout)  # type: ignore[attr-defined]
    status = session.scalar(
        sa.select(OutgoingMail.status)
        .where(OutgoingMail.recipient == recipient, OutgoingMail.created_at >= since)
        .order_by(OutgoingMail.created_at.desc())
        .limit(1)
    )
    session.rollback()
    return status


NOT_SENT = (
    "the email is queued but was not delivered yet ({status}): a worker (foyer run, foyer "
    "worker) retries it; check FOYER_SMTP_URL or your deliver_email plugin"
)
"""What commands say when the worker's first attempt did not deliver."""
