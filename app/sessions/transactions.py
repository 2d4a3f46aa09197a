"""Sign-in transactions on the server, each usable only by the browser it is bound to.

The signed cookie carries one small random *browser key* and nothing of the sign-ins
themselves, so its size never depends on what an authorization request carried, and a
request that opens a sign-in never needs to write the cookie: a cross-site POST to
``/authorize`` (which arrives without the ``SameSite=Lax`` cookie) cannot replace the
browser's cookie, and with it its SSO session. A transaction opened by such a request is
bound to the first browser that opens its page (a top-level GET, which carries the cookie).

Rows expire (``login_transaction_lifetime``) and are pruned as new sign-ins start.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import typing as t

import sqlalchemy as sa
from flask import current_app
from flask import session as cookie

from app.db import core_execute
from app.db import session
from app.db import utcnow
from app.security.crypto import constant_time_equal
from app.security.crypto import new_token
from app.security.crypto import token_hash
from app.sessions.models import LoginTransactionRow

BROWSER_KEY = "login_browser"
"""Cookie entry holding this browser's key (the only trace of its sign-ins in the cookie)."""
PRUNE_INTERVAL = 60.0
"""Seconds between two deletions of expired transactions by one process."""
_PRUNED_AT = "foyer.sessions.transactions_pruned_at"
TRANSACTION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What an id may look like (anything else is not looked up)."""


def new_transaction_id() -> str:
    return new_token(16)


def _browser_hash() -> str | None:
    key = cookie.get(BROWSER_KEY)
    return token_hash(key) if isinstance(key, str) else None


TABLE = t.cast(sa.Table, LoginTransactionRow.__table__)
UPDATE_DATA = (
    sa.update(TABLE)
    .where(TABLE.c.id == sa.bindparam("tx_id"))
    .values(data=sa.bindparam("data"), expires_at=sa.bindparam("expires_at"))
)
SELECT_ROW = sa.select(TABLE.c.browser_hash, TABLE.c.data).where(
    TABLE.c.id == sa.bindparam("tx_id")
)
INSERT_ROW = sa.insert(TABLE).values(
    id=sa.bindparam("tx_id"),
    tenant_id=sa.bindparam("tenant_id"),
    browser_hash=sa.bindparam("browser_hash"),
    data=sa.bindparam("data"),
    expires_at=sa.bindparam("expires_at"),
    created_at=sa.bindparam("created_at"),
)
BIND_ROW = (
    sa.update(TABLE)
    .where(TABLE.c.id == sa.bindparam("tx_id"), TABLE.c.browser_hash.is_(None))
    .values(browser_hash=sa.bindparam("browser_hash"))
)
DELETE_ROW = sa.delete(TABLE).where(TABLE.c.id == sa.bindparam("tx_id"))
"""The statements of every page of a sign-in, built once (composing one costs more than
running it)."""


def store(
    tx_id: str,
    tenant_id: str,
    data: dict[str, t.Any],
    expires_at: dt.datetime,
    *,
    new: bool = False,
    commit: bool = True,
) -> None:
    """Write a transaction (``new``, or changed by its browser), and commit unless the
    caller commits its own work with it (one commit for the step instead of two).

    A new transaction is bound at once when the request carries a browser key; otherwise
    its first :func:`fetch` binds it. A changed transaction whose row is gone (pruned while
    the page was open) is written again. Plain statements: the row never goes through the
    ORM, whose bookkeeping costs several times the SQL on every page of a sign-in.
    """
    values = {"tx_id": tx_id, "data": data, "expires_at": expires_at}
    if new or not core_execute(UPDATE_DATA, values).rowcount:
        values.update(tenant_id=tenant_id, browser_hash=_browser_hash(), created_at=utcnow())
        core_execute(INSERT_ROW, values)
    if commit:
        session.commit()


def fetch(tx_id: str) -> dict[str, t.Any] | None:
    """The transaction's data, when this browser may use it (binding it to this browser
    if no browser used it yet); None when unknown or another browser's."""
    if not TRANSACTION_ID.fullmatch(tx_id):
        return None
    row = core_execute(SELECT_ROW, {"tx_id": tx_id}).first()
    if row is None:
        return None
    browser_hash, data = row
    if browser_hash is None:
        key = cookie.get(BROWSER_KEY)
        if not isinstance(key, str):
            key = new_token(16)
            cookie[BROWSER_KEY] = key
        mine = token_hash(key)
        # conditional: of two browsers opening it at once, one wins
        bound = core_execute(BIND_ROW, {"tx_id": tx_id, "browser_hash": mine}).rowcount
        session.commit()
        if bound:
            browser_hash = mine
        else:  # the other browser won: read whose it is now
            found = core_execute(SELECT_ROW, {"tx_id": tx_id}).first()
            browser_hash = found[0] if found is not None else None
    own = _browser_hash()
    if own is None or browser_hash is None or not constant_time_equal(browser_hash, own):
        return None
    return dict(data)


def remove(tx_id: str, *, commit: bool = True) -> None:
    """Delete a transaction (finished, refused or expired), and commit unless the caller
    commits its own work with it."""
    core_execute(DELETE_ROW, {"tx_id": tx_id})
    if commit:
        session.commit()


def prune() -> None:
    """Delete expired transactions, at most once per :data:`PRUNE_INTERVAL` per process."""
    now = time.monotonic()
    last = current_app.extensions.get(_PRUNED_AT)
    if last is not None and now - last < PRUNE_INTERVAL:
        return
    current_app.extensions[_PRUNED_AT] = now
    session.execute(
        sa.delete(LoginTransactionRow).where(LoginTransactionRow.expires_at <= utcnow())
    )
    session.commit()
