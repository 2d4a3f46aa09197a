"""Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.5): an outbox
table, a worker thread that posts them, and retries.

Ending a session queues one row per application (and issuer) that holds tokens from it
and registered a ``backchannel_logout_uri`` (:mod:`app.oidc.logout`). Once the request's
transaction commits, the app's worker posts them; the page that ended the session never
waits for an application, so a slow or dead one cannot slow it or break it. A failed
delivery is tried again after :data:`RETRY_DELAYS`; a relying party that refuses the token
(a 4xx answer), or one still failing after the last retry, is given up on with a
``backchannel_logout_failed`` event. Each attempt signs the token afresh (a short ``exp``)
with the same ``jti``. Rows outlive the process: any worker of any host picks up what is
due (claimed with a conditional UPDATE, so one sends it), at the next logout or retry.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import typing as t

import requests
import sqlalchemy as sa
from flask import Flask
from flask import current_app
from sqlalchemy.orm import Session

from app.accounts.background import BackgroundWork
from app.clients.models import Client
from app.db import session
from app.db import utcnow
from app.events.record import record_event
from app.oidc.models import BackchannelLogout
from app.oidc.tokens import create_logout_token
from app.security.crypto import new_token

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
EXTENSION = "foyer.oidc.backchannel"
_DUE = "foyer_backchannel_due"
"""``Session.info`` flag: this unit of work queued tokens; post them once it commits."""


class Deliveries:
    """One app's delivery worker (a thread of its own, so emails never wait on an
    application) and the timer of its next retry."""

    def __init__(self, app: Flask) -> None:
        self.work = BackgroundWork(app, name="foyer-backchannel")
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None
        self.timer_due = 0.0

    def kick(self) -> None:
        """Post what is due, in the worker."""
        self.work.submit(deliver_due)

    def retry_in(self, seconds: float) -> None:
        """Run the worker again in ``seconds`` (unless a run is planned sooner)."""
        due = time.monotonic() + seconds
        with self.lock:
            if self.timer is not None and self.timer.is_alive() and self.timer_due <= due:
                return
            if self.timer is not None:
                self.timer.cancel()
            self.timer = threading.Timer(seconds, self.kick)
            self.timer.daemon = True
            self.timer_due = due
            self.timer.start()

    def wait(self, timeout: float = 30.0) -> bool:
        return self.work.wait(timeout)

    def shutdown(self, timeout: float = 60.0) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
        self.work.wait(timeout)
        self.work.executor.shutdown(wait=True)


def init_backchannel(app: Flask) -> None:
    """The app's worker, started by the commits of units of work that queued tokens."""
    deliveries = Deliveries(app)
    app.extensions[EXTENSION] = deliveries
    maker = app.extensions["foyer.db"].sessionmaker

    def after_commit(unit: Session) -> None:
        if unit.info.pop(_DUE, False):
            deliveries.kick()

    def after_rollback(unit: Session) -> None:
        unit.info.pop(_DUE, None)

    sa.event.listen(maker, "after_commit", after_commit)
    sa.event.listen(maker, "after_rollback", after_rollback)


def deliveries_of(app: Flask) -> Deliveries:
    return t.cast(Deliveries, app.extensions[EXTENSION])


def shutdown_deliveries(app: Flask) -> None:
    """Finish the running deliveries and stop the worker (tests, before their app goes)."""
    deliveries = app.extensions.pop(EXTENSION, None)
    if deliveries is not None:
        t.cast(Deliveries, deliveries).shutdown()


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
    session.info[_DUE] = True


def deliver_due() -> None:
    """Post every token that is due (in the worker), then plan the next retry."""
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
    _plan_next()


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


def _plan_next() -> None:
    """Run again when the earliest pending row is due."""
    earliest = session.scalar(
        sa.select(sa.func.min(BackchannelLogout.next_attempt_at)).where(
            BackchannelLogout.status == "pending"
        )
    )
    session.rollback()  # read only
    deliveries = current_app.extensions.get(EXTENSION)
    if earliest is not None and deliveries is not None:  # None: the app is shutting down
        seconds = max(0.0, (earliest - utcnow()).total_seconds())
        t.cast(Deliveries, deliveries).retry_in(seconds)
