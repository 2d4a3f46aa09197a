"""``/api/v1/users/imports``: bulk imports of users as jobs, polled for progress.

The rows are those of ``foyer users import`` (or Auth0's export shape), with argon2id,
bcrypt, Django PBKDF2 or scrypt hashes; imported hashes become argon2id at each user's
first sign-in. Valid rows are kept, each refused row is reported with its number.
"""

from __future__ import annotations

import dataclasses
import time
import typing as t

import sqlalchemy as sa
from flask import current_app
from flask import request
from flask_smorest import Blueprint
from werkzeug.wrappers import Response

from app.accounts.bulk import ImportReport
from app.accounts.bulk import import_rows
from app.api import schemas as s
from app.api.errors import invalid
from app.api.errors import json_response
from app.api.errors import not_found
from app.api.models import ImportJob
from app.api.policy import current_principal
from app.api.policy import requires
from app.api.serialize import iso
from app.connections.models import Connection
from app.connections.services import find_connection
from app.connections.strategies import kind_of
from app.db import session
from app.db import utcnow
from app.hooks import PluginError
from app.jobs import LeaseLost
from app.jobs import background_job
from app.jobs import enqueue
from app.jobs import last_attempt
from app.jobs import renew_lease
from app.security.crypto import decrypt_large_json
from app.security.crypto import encrypt_large_json
from app.tenancy.models import Tenant

bp = Blueprint("imports", __name__, url_prefix="/api/v1/users/imports", description="Bulk imports")

CACHE = "foyer.api.import_rows"
SLICE_SECONDS = 5.0
"""How long one run of an import job goes on before it lets the worker's other queues in."""
MAX_BODY = 64 * 1024 * 1024
"""Largest import body (100,000 users with their hashes and metadata fit)."""
KEPT_ERRORS = 1000
"""Refused rows listed in a job (all are counted)."""


def job_json(job: ImportJob) -> dict[str, t.Any]:
    return {
        "id": job.id,
        "status": job.status,
        "total": job.total,
        "processed": job.processed,
        "imported": job.imported,
        "skipped": job.skipped,
        "failed": job.failed,
        "errors": list(job.errors or []),
        "error": job.error,
        "created_at": iso(job.created_at),
        "finished_at": iso(job.finished_at),
    }


@dataclasses.dataclass
class _Parsed:
    """A job's rows as this process last left them, so the next slice reads nothing again."""

    job_id: str
    through: int
    rows: list[t.Any]
    seen: dict[tuple[str, str], int]


@background_job
def run_import(job_id: str) -> None:
    """One slice of an import job, in the durable worker: batches committed with the job's
    counts, for about :data:`SLICE_SECONDS`; then the rest is queued behind the worker's
    other work (mail keeps going out during a long import). A worker that dies mid-slice
    leaves its job to the next one once the lease ends, which goes on from ``through``.
    """
    job = session.get(ImportJob, job_id, populate_existing=True)
    if job is None or job.status in ("done", "failed"):
        session.rollback()
        return
    cache = current_app.extensions.get(CACHE)
    if not (isinstance(cache, _Parsed) and cache.job_id == job_id and cache.through == job.through):
        cache = None
        current_app.extensions.pop(CACHE, None)
    rows = cache.rows if cache else decrypt_large_json(job.payload)
    seen = cache.seen if cache else None
    tenant = session.get(Tenant, job.tenant_id)
    connection = session.get(Connection, job.connection_id)
    resume = ImportReport(
        total=job.total,
        processed=job.processed,
        imported=job.imported,
        skipped=job.skipped,
        failed=job.failed,
        errors=[(e["row"], e["message"]) for e in job.errors or []],
        through=job.through,
    )
    job.status = "running"
    renew_lease()
    session.commit()
    ends = time.monotonic() + SLICE_SECONDS

    def progress(report: ImportReport) -> None:
        job.processed, job.imported = report.processed, report.imported
        job.skipped, job.failed, job.through = report.skipped, report.failed, report.through
        job.errors = [{"row": n, "message": m} for n, m in report.errors[:KEPT_ERRORS]]
        renew_lease()

    kept: dict[tuple[str, str], int] = seen if seen is not None else {}
    try:
        report = import_rows(
            enumerate(rows, start=1),
            tenant,
            connection,
            progress,
            resume=resume,
            seen=kept,
            stop=lambda: time.monotonic() > ends,
        )
    except PluginError as exc:
        session.rollback()
        _finish(job_id, "failed", f"plugin {exc.plugin} failed in {exc.hook}")
        return
    except LeaseLost:
        raise
    except Exception as exc:
        session.rollback()
        current_app.extensions.pop(CACHE, None)
        if last_attempt():
            _finish(job_id, "failed", f"the import stopped ({type(exc).__name__})")
        raise
    if report.finished:
        _finish(job_id, "done", None)
        return
    current_app.extensions[CACHE] = _Parsed(job_id, report.through, rows, kept)
    enqueue(run_import, job_id)


def _finish(job_id: str, status: str, error: str | None) -> None:
    """End the job: its status, and its rows forgotten (they hold password hashes)."""
    current_app.extensions.pop(CACHE, None)
    session.execute(
        sa.update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(
            status=status, error=error[:512] if error else None, payload=None, finished_at=utcnow()
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _large_body(view: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        request.max_content_length = MAX_BODY
        return view(*args, **kwargs)

    wrapper.__dict__.update(view.__dict__)
    wrapper.__name__, wrapper.__doc__ = view.__name__, view.__doc__
    return wrapper


@bp.route("", methods=["POST"])
@requires("create:users", tenant_wide=True)
@_large_body
@bp.arguments(s.ImportCreate)
@bp.response(202, s.ImportJobSchema)
def start(data: dict[str, t.Any]) -> Response:
    """Start importing users into a password connection; poll the job for progress."""
    principal = current_principal()
    connection = find_connection(principal.tenant, data["connection"])
    if connection is None or kind_of(connection) != "password":
        raise invalid("connection", "No password connection has this name.", "unknown_connection")
    job = ImportJob(
        tenant_id=principal.tenant.id,
        connection_id=connection.id,
        client_id=principal.client.client_id,
        total=len(data["users"]),
        payload=encrypt_large_json(data["users"]),
    )
    session.add(job)
    session.commit()
    enqueue(run_import, job.id)
    return json_response(202, job_json(job), {"Location": f"/api/v1/users/imports/{job.id}"})


@bp.route("/<job_id>")
@requires("read:users", tenant_wide=True)
@bp.response(200, s.ImportJobSchema)
def status(job_id: str) -> Response:
    """An import's progress, counts and refused rows."""
    job = session.scalar(
        sa.select(ImportJob).where(
            ImportJob.id == job_id[:40], ImportJob.tenant_id == current_principal().tenant.id
        )
    )
    if job is None:
        raise not_found("import")
    session.refresh(job)
    return json_response(200, job_json(job))
