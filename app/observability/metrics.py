"""Every Prometheus metric Foyer exports, and the functions the rooms call to feed them.

The metric objects are defined here and nowhere else, so the list in ``docs/operating.md``,
the Grafana dashboard (``docs/grafana-dashboard.json``) and this module stay one set (a test
checks the dashboard against :data:`METRIC_NAMES`). Rooms never touch the objects: they call
the ``count_*``/``observe_*``/``set_*`` functions below, which keep label values bounded.

Under gunicorn (``foyer run``) each worker writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` and :func:`exposition` adds them up (the official client's
multiprocess mode); the variable must be set before this module is imported, which
``foyer run`` does. Without it (tests, one process) the client's default registry is used.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import typing as t

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import REGISTRY
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge
from prometheus_client import Histogram
from prometheus_client import generate_latest
from prometheus_client import multiprocess

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

OTHER = "other"
"""The label value of every tenant or organization past the per-process limit."""
NONE = "-"
"""The label value when there is no tenant, organization or plugin to name."""

MAX_TENANTS = 100
MAX_ORGANIZATIONS = 1000
"""Distinct tenants and organizations one process labels by name; later ones count as
:data:`OTHER`, so a series count stays bounded whatever the number of customers."""

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

SIGN_IN_RESULTS = ("success", "failed", "locked_out", "denied", "blocked")
"""Results of ``foyer_sign_ins_total``: signed in; wrong identifier, password or code;
refused by attack protection; refused by a login rule; the user is blocked."""

LOCKOUT_KINDS = ("pair_blocked", "account_delayed", "address_throttled")
EMAIL_RESULTS = ("sent", "retried", "failed")
UPSTREAM_OUTCOMES = ("success", "error", "timeout")

HTTP_REQUESTS = Counter(
    "foyer_http_requests",
    "HTTP requests answered, by endpoint (Flask endpoint name), method and status code.",
    ["endpoint", "method", "status"],
)
HTTP_DURATION = Histogram(
    "foyer_http_request_duration_seconds",
    "Time from the request's arrival in the app to its response, by endpoint.",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)
SIGN_INS = Counter(
    "foyer_sign_ins",
    "Sign-in attempts that ended, by result, tenant and organization.",
    ["result", "tenant", "organization"],
)
RATE_LIMITED = Counter(
    "foyer_rate_limited",
    "Requests refused with 429 (rate limits and sign-in delays), by endpoint.",
    ["endpoint"],
)
LOCKOUTS = Counter(
    "foyer_lockouts",
    "Attack protection stepping in: an account and address pair blocked, an account's "
    "attempts delayed, an address throttled.",
    ["kind"],
)
EVENTS = Counter("foyer_events", "Events recorded, by type code.", ["type"])
ERROR_PAGES = Counter(
    "foyer_error_pages", "Error pages shown, by error code (not_found included).", ["code"]
)
HOOK_DURATION = Histogram(
    "foyer_hook_duration_seconds",
    "Time one plugin's implementation took in one hook call.",
    ["plugin", "hook"],
    buckets=LATENCY_BUCKETS,
)
HOOK_FAILURES = Counter(
    "foyer_hook_failures",
    "Hook implementations that raised or ran out of time, by plugin and hook.",
    ["plugin", "hook"],
)
EMAIL_QUEUE_DEPTH = Gauge(
    "foyer_email_queue_depth",
    "Emails waiting to be sent, as a running process last reported it.",
    multiprocess_mode="livemostrecent",
)
EMAILS = Counter(
    "foyer_emails", "Emails handed to delivery, by result (sent, retried, failed).", ["result"]
)
UPSTREAM_DURATION = Histogram(
    "foyer_upstream_request_duration_seconds",
    "Calls to upstream identity providers (token, userinfo, metadata...), by strategy, "
    "call and outcome.",
    ["strategy", "call", "outcome"],
    buckets=LATENCY_BUCKETS,
)
DATABASE_UNAVAILABLE = Counter(
    "foyer_database_unavailable",
    "Requests answered 503 because the database could not be reached.",
)

ALL_METRICS = (
    HTTP_REQUESTS,
    HTTP_DURATION,
    SIGN_INS,
    RATE_LIMITED,
    LOCKOUTS,
    EVENTS,
    ERROR_PAGES,
    HOOK_DURATION,
    HOOK_FAILURES,
    EMAIL_QUEUE_DEPTH,
    EMAILS,
    UPSTREAM_DURATION,
    DATABASE_UNAVAILABLE,
)


def _sample_names(metric: t.Any) -> list[str]:
    """The sample names a metric exports (``_total``, ``_bucket``, ``_sum``, ``_count``)."""
    name, kind = metric._name, metric._type  # the client has no public accessor for these
    if kind == "counter":
        return [f"{name}_total"]
    if kind == "histogram":
        return [f"{name}_bucket", f"{name}_sum", f"{name}_count"]
    return [name]


METRIC_NAMES: frozenset[str] = frozenset(n for m in ALL_METRICS for n in _sample_names(m))
"""Every sample name Foyer exports: what a dashboard or an alert may refer to."""


class BoundedLabel:
    """Hands out label values: the first ``limit`` distinct ones as given, then
    :data:`OTHER`. Values are names from Foyer's own database, never request input."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        if not value:
            return NONE
        if value in self.seen:
            return value
        with self.lock:
            if len(self.seen) >= self.limit:
                return OTHER
            self.seen.add(value)
        return value


tenant_label = BoundedLabel(MAX_TENANTS)
organization_label = BoundedLabel(MAX_ORGANIZATIONS)


# --- What the rooms call ------------------------------------------------------------------


def observe_request(endpoint: str | None, method: str, status: int, seconds: float) -> None:
    """One answered request; ``endpoint`` is Flask's endpoint name (``None``: no route
    matched, counted as ``unmatched`` so a scanner's paths never become labels)."""
    series = _request_series.get((endpoint, method, status))
    if series is None:
        series = _request_series_of(endpoint, method, status)
    count, duration = series
    count.inc()
    duration.observe(seconds)
    if status == 429:
        RATE_LIMITED.labels(endpoint or "unmatched").inc()


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_request_series: dict[tuple[str | None, str, int], tuple[t.Any, t.Any]] = {}
"""The request metrics' series by (endpoint, method, status), as ``labels()`` found them:
finding one costs more than counting in it. As bounded as the series themselves (the
client keeps every one it made); methods beyond :data:`_METHODS` are not kept apart."""


def _request_series_of(endpoint: str | None, method: str, status: int) -> tuple[t.Any, t.Any]:
    name = endpoint or "unmatched"
    known = method in _METHODS
    series = (
        HTTP_REQUESTS.labels(name, method if known else "other", str(status)),
        HTTP_DURATION.labels(name),
    )
    if known:
        _request_series[(endpoint, method, status)] = series
    return series


def count_sign_in(result: str, tenant: str | None, organization: str | None) -> None:
    """A sign-in attempt ended with ``result`` (one of :data:`SIGN_IN_RESULTS`)."""
    if result not in SIGN_IN_RESULTS:
        raise ValueError(f"unknown sign-in result {result!r}")
    SIGN_INS.labels(result, tenant_label(tenant), organization_label(organization)).inc()


def count_lockout(kind: str) -> None:
    """Attack protection stepped in (one of :data:`LOCKOUT_KINDS`)."""
    if kind not in LOCKOUT_KINDS:
        raise ValueError(f"unknown lockout kind {kind!r}")
    LOCKOUTS.labels(kind).inc()


def count_event(type_: str) -> None:
    """An event was recorded (its type is one of the stable codes)."""
    EVENTS.labels(type_).inc()


def count_error_page(code: str) -> None:
    """An error page (or its plain variant) was shown with ``code``."""
    ERROR_PAGES.labels(code).inc()


def count_database_unavailable() -> None:
    DATABASE_UNAVAILABLE.inc()


def observe_hook(plugin: str, hook: str, seconds: float) -> None:
    """One plugin's implementation ran in a hook call for ``seconds`` (failed or not)."""
    HOOK_DURATION.labels(plugin, hook).observe(seconds)


def count_hook_failure(plugin: str, hook: str) -> None:
    HOOK_FAILURES.labels(plugin, hook).inc()


def set_email_queue_depth(depth: int) -> None:
    """How many emails wait to be sent now; the mail sender calls it when it changes (or on
    each pass of its loop)."""
    EMAIL_QUEUE_DEPTH.set(depth)


def count_email(result: str) -> None:
    """An email was sent, will be retried, or failed for good (:data:`EMAIL_RESULTS`)."""
    if result not in EMAIL_RESULTS:
        raise ValueError(f"unknown email result {result!r}")
    EMAILS.labels(result).inc()


def observe_upstream(strategy: str, call: str, outcome: str, seconds: float) -> None:
    """One call to an upstream identity provider.

    :param strategy: The connection strategy (``oidc``, ``saml``...), not the connection's
        name: bounded by the code, not by configuration.
    :param call: What was asked (``token``, ``userinfo``, ``metadata``, ``jwks``...).
    :param outcome: One of :data:`UPSTREAM_OUTCOMES`.
    """
    if outcome not in UPSTREAM_OUTCOMES:
        raise ValueError(f"unknown upstream outcome {outcome!r}")
    UPSTREAM_DURATION.labels(strategy, call, outcome).observe(seconds)


class UpstreamCall:
    """What :func:`timed_upstream` records: ``success`` unless the block raises or says the
    answer was a failure (:meth:`failed`, e.g. an HTTP 5xx)."""

    def __init__(self) -> None:
        self.outcome = "success"

    def failed(self) -> None:
        self.outcome = "error"


@contextlib.contextmanager
def timed_upstream(strategy: str, call: str) -> t.Iterator[UpstreamCall]:
    """Time the block as an upstream call: ``timeout`` when what it raises is (or was
    caused by) a timeout, :class:`TimeoutError` or ``requests``' ``*Timeout``; ``error``
    for anything else it raises or when the block calls ``failed()``."""
    started = time.perf_counter()
    record = UpstreamCall()
    try:
        yield record
    except BaseException as exc:
        record.outcome = "timeout" if _is_timeout(exc) else "error"
        raise
    finally:
        observe_upstream(strategy, call, record.outcome, time.perf_counter() - started)


def _is_timeout(exc: BaseException | None) -> bool:
    """``exc`` or what it was raised from (a strategy wraps the HTTP library's errors)."""
    for _depth in range(5):
        if exc is None:
            return False
        if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


# --- Exposition ---------------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_ENV) or None


def collector_registry() -> CollectorRegistry:
    """Every process's values added up under gunicorn; this process's otherwise."""
    if multiprocess_dir() is None:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition() -> tuple[bytes, str]:
    """The text format Prometheus scrapes, and its content type."""
    return generate_latest(collector_registry()), CONTENT_TYPE_LATEST


def process_exited(pid: int) -> None:
    """Tell the multiprocess files that a worker is gone (gunicorn's ``child_exit``)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def metrics_reference() -> str:
    """A Markdown table of every metric (``docs/operating.md`` embeds it; a test keeps the
    two equal)."""
    rows = ["| metric | type | labels | meaning |", "| --- | --- | --- | --- |"]
    for metric in ALL_METRICS:
        names = ", ".join(f"`{n}`" for n in _sample_names(metric))
        labels = ", ".join(f"`{label}`" for label in metric._labelnames) or "-"
        rows.append(f"| {names} | {metric._type} | {labels} | {metric._documentation} |")
    return "\n".join(rows) + "\n"
