"""Writing discovery decisions into the sign-in's trace (``tx.hrd``), which the login
events (``login_succeeded``, ``login_failed``, ``login_denied``, ``login_redirected``...)
carry, so support can answer "why did I land here?" from the log."""

from __future__ import annotations

import typing as t

from app.login import flow

if t.TYPE_CHECKING:
    from app.hrd.chain import Step
    from app.login.flow import LoginTransaction

MAX_ENTRIES = 16
"""The trace lives in the session cookie: older entries give way (the log keeps them)."""


def record(tx: LoginTransaction, steps: t.Iterable[Step]) -> None:
    """Append each decision: method, its rule (detail), and the organization and
    connection it left the sign-in with (ids)."""
    for step in steps:
        tx.organization_id = step.organization.id if step.organization else None
        tx.connection_id = step.connection.id if step.connection else None
        flow.add_trace(tx, step.method, step.detail)
    del tx.hrd[:-MAX_ENTRIES]
