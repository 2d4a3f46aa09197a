"""Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.5): an outbox
table, a worker thread that posts them, and retries.

Ending a session queues one row per application (and issuer) that holds tokens from it
and registered a ``backchannel_logout_uri`` (:mod:`app.oidc.logout`). Once the request's
transaction commits, the app's worker (:mod:`app.worker`) posts them; the page that ended
the session never waits for an application, so a slow or dead one cannot slow it or break
it. A failed
delivery is tried again after :data:`RETRY_DELAYS`; a relying party that refuses the token
(a 4xx answer), or one still failing after the last retry, is given up on with a
``backchannel_logout_failed`` event. Each attempt signs the token afresh (a short ``exp``)
with the same ``jti``. Rows outlive the process: any worker of any host picks up what is
due (claimed with a conditional UPDATE, so one sends it), at the next logout or retry.
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t

import sqlalchemy as sa
from flask import Flask

from app.clients.models import Client
from app.db import session
from app.db import utcnow
from app.events.record import record_event
from app.oidc.models import BackchannelLogout
from app.oidc.tokens import create_logout_token
from app.security.crypto import new_token
from app.worker import Worker
from app.worker import init_worker
from app.worker import kick_after_commit
from app.worker import worker_of

if t.TYPE_CHECKING:
    from app.sessions.models import SsoSession

log = logging.getLogger(__name__)

RETRY_DELAYS = (10, 60, 300, 1800)
"""Seconds before the second, third... attempt; after the last one the token is given up."""
TIMEOUT = (2.0, 3.0)
"""Seconds to connect to a relying party, and to wait for its answer."""
LEASE = dt.timedelta(seconds=60)
"""How long a claimed row is left to the worker that claimed it."""
KEEP_FINISHED = dt.timedelta(days=7)
"""Delivered and failed rows are deleted after this long."""
BATCH = 50


def init_backchannel(app: Flask) -> None:
    """Logout tokens are one of the worker's queues (:mod:`app.worker`)."""
    init_worker(app).add("backchannel_logout", deliver_due)


def deliveries_of(app: Flask) -> Worker:
    """The worker that posts the tokens (``.wait()`` in tests)."""
    return worker_of(app)


def queue(client: Client, uri: str, issuer: str, sso: SsoSession) -> None:
    """Owe ``client`` a logout token for the end of ``sso`` (posted after the commit)."""
    session.add(
        BackchannelLogout(
            tenant_id=sso.tenant_id,
            client_id=client.client_id,
            uri=uri,
            issuer=issuer,
            subject=sso.user_id,
            sid=sso.id,
            jti=new_token(16),
            next_attempt_at=utcnow(),
        )
    )
    kick_after_commit(session)


def deliver_due() -> float | None:
    """Post every token that is due (the worker's drain); the seconds until the next one
    is due."""
    now = utcnow()
    session.execute(
        sa.delete(BackchannelLogout).where(
            BackchannelLogout.status != "pending",
            BackchannelLogout.created_at < now - KEEP_FINISHED,
        )
    )
    session.commit()
    due = session.scalars(
        sa.select(BackchannelLogout)
        .where(BackchannelLogout.status == "pending", BackchannelLogout.next_attempt_at <= now)
        .order_by(BackchannelLogout.next_attempt_at)
        .limit(BATCH)
    ).all()
    for row in due:
        if _claim(row, now):
            _attempt(row)
    return _next_due()


def _claim(row: BackchannelLogout, now: dt.datetime) -> bool:
    """Take the row for this worker; False when another worker (or host) took it."""
    result = session.execute(
        sa.update(BackchannelLogout)
        .where(
            BackchannelLogout.id == row.id,
            BackchannelLogout.status == "pending",
            BackchannelLogout.attempts == row.attempts,
            BackchannelLogout.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + LEASE)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return t.cast(sa.CursorResult[t.Any], result).rowcount == 1


def _attempt(row: BackchannelLogout) -> None:
    """Post the token once and record the outcome."""
    client = session.scalar(
        sa.select(Client).where(
            Client.tenant_id == row.tenant_id, Client.client_id == row.client_id
        )
    )
    error, final = _post(row, client) if client is not None else ("client removed", True)
    row.attempts += 1
    row.last_error = error
    if error is None:
        row.status = "delivered"
    elif final or row.attempts > len(RETRY_DELAYS):
        row.status = "failed"
    else:
        row.next_attempt_at = utcnow() + dt.timedelta(seconds=RETRY_DELAYS[row.attempts - 1])
    session.commit()
    if row.status == "failed":
        record_event(
            "backchannel_logout_failed",
            tenant_id=row.tenant_id,
            user_id=row.subject,
            client_id=row.client_id,
            data={"session": row.sid, "attempts": row.attempts, "error": error},
        )


def _post(row: BackchannelLogout, client: Client) -> tuple[str | None, bool]:
    """(None, _) when the relying party took the token; else (why, whether to give up)."""
    token = create_logout_token(
        tenant_id=row.tenant_id,
        client=client,
        issuer=row.issuer,
        subject=row.subject,
        sid=row.sid,
        jti=row.jti,
    )
    import requests  # memory: 5 MiB, only in a worker that sends a logout token

    try:
        with requests.post(
            row.uri,
            data={"logout_token": token},
            timeout=TIMEOUT,
            allow_redirects=False,
            stream=True,  # the answer's body is never read
        ) as response:
            status = response.status_code
    except requests.RequestException as exc:
        log.warning("back-channel logout to %s failed: %s", row.client_id, type(exc).__name__)
        return type(exc).__name__, False
    if 200 <= status < 300:
        return None, False
    log.warning("back-channel logout to %s answered %d", row.client_id, status)
    return f"HTTP {status}", 400 <= status < 500 and status not in (408, 429)


def _next_due() -> float | None:
    """Seconds until the earliest pending row is due, or None."""
    earliest = session.scalar(
        sa.select(sa.func.min(BackchannelLogout.next_attempt_at)).where(
            BackchannelLogout.status == "pending"
        )
    )
    session.rollback()  # read only
    if earliest is None:
        return None
    return max(0.0, (earliest - utcnow()).total_seconds())
