"""``/api/v1/users/imports``: bulk imports of users as jobs, polled for progress.

The rows are those of ``foyer users import`` (or Auth0's export shape), with argon2id,
bcrypt, Django PBKDF2 or scrypt hashes; imported hashes become argon2id at each user's
first sign-in. Valid rows are kept, each refused row is reported with its number.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask import Flask
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
from app.api.import_thread import ImportThread
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
from app.tenancy.models import Tenant

bp = Blueprint("imports", __name__, url_prefix="/api/v1/users/imports", description="Bulk imports")

EXTENSION = "foyer.api.imports"
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


def run_import(job_id: str, rows: list[t.Any]) -> None:
    """The job, in the import worker: batches committed as they go, progress after each."""
    job = session.get(ImportJob, job_id)
    if job is None:
        return
    tenant = session.get(Tenant, job.tenant_id)
    connection = session.get(Connection, job.connection_id)
    job.status = "running"
    session.commit()

    def progress(report: ImportReport) -> None:
        job.processed, job.imported = report.processed, report.imported
        job.skipped, job.failed = report.skipped, report.failed
        job.errors = [{"row": n, "message": m} for n, m in report.errors[:KEPT_ERRORS]]
        session.commit()

    try:
        report = import_rows(
            enumerate(rows, start=1), tenant, connection, progress, total=len(rows)
        )
        progress(report)
        job.status = "done"
    except PluginError as exc:
        session.rollback()
        job = session.get(ImportJob, job_id)
        job.status, job.error = "failed", f"plugin {exc.plugin} failed in {exc.hook}"[:512]
    job.finished_at = utcnow()
    session.commit()


def _worker(app: Flask) -> ImportThread:
    work = app.extensions.get(EXTENSION)
    if work is None:
        work = app.extensions[EXTENSION] = ImportThread(app)
    return t.cast(ImportThread, work)


def wait_for_imports(app: Flask, timeout: float = 60.0) -> bool:
    """Wait for the running imports (tests, benchmarks)."""
    work = app.extensions.get(EXTENSION)
    return True if work is None else t.cast(ImportThread, work).wait(timeout)


def shutdown_imports(app: Flask) -> None:
    """Finish the running imports and stop the worker (tests, before their app goes)."""
    work = app.extensions.pop(EXTENSION, None)
    if work is not None:
        t.cast(ImportThread, work).wait(120)
        t.cast(ImportThread, work).executor.shutdown(wait=True)


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
    )
    session.add(job)
    session.commit()
    _worker(current_app._get_current_object()).submit(run_import, job.id, data["users"])  # type: ignore[attr-defined]
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
