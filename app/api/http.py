"""HTTP manners of the management API: ETags and If-Match, cursors, idempotency keys and
rate-limit headers."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
import typing as t

import sqlalchemy as sa
from flask import current_app
from flask import g
from flask import request
from limits import parse
from werkzeug.wrappers import Response

from app.api.errors import ApiError
from app.api.errors import json_response
from app.api.models import IdempotentRequest
from app.api.policy import current_principal
from app.db import session
from app.db import utcnow
from app.security.limits import limiter

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

IDEMPOTENCY_TTL = dt.timedelta(hours=24)
"""How long a create's answer is kept for a retry with the same ``Idempotency-Key``."""
MAX_KEY_LENGTH = 255


# --- ETag / If-Match -------------------------------------------------------------------------


def etag_of(representation: t.Any) -> str:
    """A strong ETag of a resource's JSON representation."""
    text = json.dumps(representation, sort_keys=True, default=str)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def check_if_match(current: t.Any) -> None:
    """Refuse a change whose ``If-Match`` names another version of the resource (412).

    Without the header the change goes through (last writer wins), as with Auth0; a client
    that wants optimistic concurrency sends the ETag it read.
    """
    header = request.headers.get("If-Match")
    if header is None:
        return
    wanted = [part.strip() for part in header.split(",")]
    if "*" in wanted:
        return
    tag = etag_of(current)
    if tag not in wanted and f"W/{tag}" not in wanted:
        raise ApiError(
            412,
            "precondition_failed",
            "The resource changed since it was read (If-Match does not match its ETag).",
            field="If-Match",
        )


def with_etag(body: t.Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = json_response(status, body, headers)
    response.headers["ETag"] = etag_of(body)
    return response


# --- cursors ---------------------------------------------------------------------------------


def encode_cursor(*values: t.Any) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, dt.datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str, size: int) -> list[t.Any]:
    """The values a cursor holds; 400 ``invalid_cursor`` for anything else."""
    try:
        padded = value + "=" * (-len(value) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        if not isinstance(values, list) or len(values) != size:
            raise ValueError
        if not all(isinstance(v, str) for v in values):
            raise ValueError
        return values
    except (ValueError, binascii.Error, UnicodeError):
        raise ApiError(
            400, "invalid_cursor", "The cursor is not one this API gave.", "cursor"
        ) from None


def page_after(
    stmt: sa.Select[t.Any], created: t.Any, ident: t.Any, cursor: str | None, limit: int
) -> tuple[list[t.Any], str | None]:
    """One page of ``stmt`` in (created, id) order after ``cursor``, and the next cursor."""
    if cursor:
        after_created, after_id = decode_cursor(cursor, 2)
        try:
            when = dt.datetime.fromisoformat(after_created)
        except ValueError:
            raise ApiError(
                400, "invalid_cursor", "The cursor is not one this API gave.", "cursor"
            ) from None
        stmt = stmt.where(sa.or_(created > when, sa.and_(created == when, ident > after_id)))
    rows = list(session.scalars(stmt.order_by(created, ident).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    if not more or not rows:
        return rows, None
    last = rows[-1]
    return rows, encode_cursor(getattr(last, created.key), getattr(last, ident.key))


# --- idempotency keys ------------------------------------------------------------------------


def idempotent(view: F) -> F:
    """A create that honours ``Idempotency-Key``: the first answer (2xx) is kept a day and
    sent again, with ``Idempotent-Replayed: true``, to a retry of the same request; the
    key sent with another request is refused (422 ``idempotency_key_reused``)."""

    @functools.wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(*args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ApiError(
                400,
                "invalid_idempotency_key",
                "Use 1 to 255 printable characters.",
                "Idempotency-Key",
            )
        principal = current_principal()
        fingerprint = hashlib.sha256(
            b"\0".join([request.method.encode(), request.path.encode(), request.get_data()])
        ).hexdigest()
        found = session.scalar(
            sa.select(IdempotentRequest).where(
                IdempotentRequest.tenant_id == principal.tenant.id,
                IdempotentRequest.client_id == principal.client.client_id,
                IdempotentRequest.key == key,
                IdempotentRequest.expires_at > utcnow(),
            )
        )
        if found is not None:
            if found.fingerprint != fingerprint:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    "This Idempotency-Key was sent with another request.",
                    "Idempotency-Key",
                )
            headers = {"Idempotent-Replayed": "true"}
            if found.location:
                headers["Location"] = found.location
            return json_response(found.status, found.body, headers)
        response = current_app.make_response(view(*args, **kwargs))
        if 200 <= response.status_code < 300 and response.is_json:
            session.execute(
                sa.delete(IdempotentRequest).where(
                    IdempotentRequest.tenant_id == principal.tenant.id,
                    IdempotentRequest.client_id == principal.client.client_id,
                    IdempotentRequest.key == key,
                )
            )
            session.add(
                IdempotentRequest(
                    tenant_id=principal.tenant.id,
                    client_id=principal.client.client_id,
                    key=key,
                    fingerprint=fingerprint,
                    status=response.status_code,
                    body=response.get_json(),
                    location=response.headers.get("Location"),
                    expires_at=utcnow() + IDEMPOTENCY_TTL,
                )
            )
            try:
                session.commit()
            except sa.exc.IntegrityError:
                session.rollback()  # a concurrent retry stored its answer first
        return response

    return t.cast(F, wrapper)


# --- rate limits -----------------------------------------------------------------------------


def count_request() -> None:
    """Count this request against the client's (else the address's) budget; over it, 429.
    The budget is told on every answer (``RateLimit-*`` and ``X-RateLimit-*`` headers)."""
    settings = current_app.extensions["foyer.settings"]
    item = parse(settings.rate_limit_api)
    principal = g.get("api_principal")
    who = principal.client.client_id if principal is not None else request.remote_addr or "-"
    strategy = limiter().limiter
    prefix = current_app.extensions["foyer.limit_prefix"]
    allowed = strategy.hit(item, prefix, "api", who)
    stats = strategy.get_window_stats(item, prefix, "api", who)
    reset = max(0, int(stats.reset_time - dt.datetime.now(dt.UTC).timestamp()))
    g.api_rate_limit = (item.amount, stats.remaining, reset)
    if not allowed:
        raise ApiError(
            429,
            "rate_limited",
            "Too many requests: wait before sending more.",
            headers={"Retry-After": str(max(1, reset))},
        )


def add_rate_limit_headers(response: Response) -> Response:
    found = g.get("api_rate_limit")
    if found is not None:
        amount, remaining, reset = found
        for prefix in ("RateLimit-", "X-RateLimit-"):
            response.headers[prefix + "Limit"] = str(amount)
            response.headers[prefix + "Remaining"] = str(remaining)
            response.headers[prefix + "Reset"] = str(reset)
    return response
