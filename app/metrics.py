"""Prometheus metrics: what each process observes, plus what the database says at scrape time.

Process-local series (HTTP requests, GraphQL operations, cleanup runs, pool use) are kept by
prometheus_client. With several worker processes set PROMETHEUS_MULTIPROC_DIR to an empty,
writable folder before the processes start (as prometheus_client's multiprocess mode asks):
every process writes its series there and any of them answers a scrape with the sum.

Database-backed series (builds by status, resume requests by status and source, the resume
success ratio, orchestrator trigger attempts, webhook deliveries, cleanup totals) are read with
a few GROUP BY queries when /metrics is scraped, so they are the same whichever process answers.

/metrics needs the read scope (X-API-Key or a Bearer JWT), or the token in
BUILDSTATE_METRICS_TOKEN presented as `Authorization: Bearer <token>`, which is what
Prometheus' `authorization: {credentials: ...}` scrape setting sends.
"""

from __future__ import annotations

import hmac
import os
import re
import time
from bisect import bisect_left
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Mount
from starlette.types import Scope

from app.services.commands import BuildStatus
from app.services.gauges import SystemGauges, system_gauges

BUILD_STATUSES = tuple(BuildStatus.__members__)

disable_created_metrics()  # the *_created series only double the exposition
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "buildstate_http_requests", "HTTP requests by route template, method and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "buildstate_http_request_duration_seconds", "HTTP request latency by route template",
    ["method", "route"], buckets=LATENCY_BUCKETS,
)
GRAPHQL_OPERATIONS = Counter(
    "buildstate_graphql_operations", "GraphQL operations by name, type and outcome",
    ["operation", "type", "outcome"],
)
GRAPHQL_ERRORS = Counter(
    "buildstate_graphql_errors", "Errors returned by GraphQL operations", ["operation"],
)
GRAPHQL_LATENCY = Histogram(
    "buildstate_graphql_operation_duration_seconds", "GraphQL operation duration by name",
    ["operation", "type"], buckets=LATENCY_BUCKETS,
)
CLEANUP_RUNS = Counter("buildstate_cleanup_runs", "Artifact cleanup runs", ["mode"])
CLEANUP_ITEMS = Counter(
    "buildstate_cleanup_items", "Artifacts handled by cleanup runs, by outcome", ["outcome"],
)
DB_POOL = Gauge(
    "buildstate_db_pool_connections", "Database connections of the pool, by state",
    ["state"], multiprocess_mode="livesum",
)

_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_OPERATION_NAMES = 200
_operation_names: set[str] = set()


def operation_label(name: str | None) -> str:
    """Client-chosen names are bounded: at most a few hundred distinct labels per process."""
    if not name:
        return "anonymous"
    if not _OPERATION_NAME.match(name):
        return "invalid"
    if name not in _operation_names:
        if len(_operation_names) >= _MAX_OPERATION_NAMES:
            return "other"
        _operation_names.add(name)
    return name


def observe_graphql(name: str | None, op_type: str, seconds: float, errors: int) -> None:
    outcome = "error" if errors else "ok"
    timed = _graphql_by_name.get((name, op_type, outcome))
    if timed is None:
        label = operation_label(name)
        key = (label, op_type, outcome)
        timed = _graphql_children.get(key)
        if timed is None:  # bounded as the labels are (operation_label)
            timed = _graphql_children[key] = _Timed(
                GRAPHQL_OPERATIONS.labels(label, op_type, outcome),
                GRAPHQL_LATENCY.labels(label, op_type),
            )
        # A name that is its own label (or no name) always maps to the same children: found by
        # the name next time, without operation_label's pattern match. "invalid" and "other"
        # names are not kept (clients choose them: unbounded).
        if label == name or name is None:
            _graphql_by_name[(name, op_type, outcome)] = timed
    else:
        label = None
    timed.observe(seconds)
    if errors:
        GRAPHQL_ERRORS.labels(label if label is not None else operation_label(name)).inc(errors)


class _Timed:
    """A labelled Counter child and Histogram child, counted and timed together.

    Counter.inc and Histogram.observe check on every call that the child is labelled (three
    calls deep) and that the amount is not negative, then walk the buckets one by one. Here the
    children come from `labels()` (checked once) and the amounts are 1 and a duration; the bucket
    is found by bisection. The values are prometheus_client's own value objects (MutexValue, or
    the mmap'ed value in multiprocess mode) updated with their own `inc` (and its lock), so the
    exposition is the same: tests/observability/test_h7_metrics.py compares it with the public
    API's, and fails if the attributes read here (`_value`, `_sum`, `_buckets`, `_upper_bounds`)
    change."""

    __slots__ = ("count", "sum", "buckets", "bounds", "last")

    def __init__(self, counter: Counter, histogram: Histogram) -> None:
        self.count = counter._value
        self.sum = histogram._sum
        self.buckets = histogram._buckets
        self.bounds = histogram._upper_bounds  # ascending, +Inf last
        self.last = len(self.bounds)

    def observe(self, seconds: float) -> None:
        self.count.inc(1)
        self.sum.inc(seconds)
        bounds = self.bounds
        i = bisect_left(bounds, seconds)  # the first bound >= seconds, as Histogram.observe's walk
        if i < self.last and seconds <= bounds[i]:  # a NaN is in no bucket, as there
            self.buckets[i].inc(1)


# As _http_children below: the labelled children of the GraphQL series, by their label values,
# and by the operation name when it is its own label.
_graphql_children: dict[tuple[str, str, str], _Timed] = {}
_graphql_by_name: dict[tuple[str | None, str, str], _Timed] = {}


def record_cleanup(report: object) -> None:
    """Count a cleanup run (a CleanupReport) in this process."""
    CLEANUP_RUNS.labels("dry_run" if getattr(report, "dry_run", False) else "run").inc()
    for outcome, n in getattr(report, "counts", {}).items():
        CLEANUP_ITEMS.labels(outcome).inc(n)


_pool_checked = 0.0


def update_pool_gauges(*, at_most_every: float = 0.0) -> None:
    global _pool_checked
    now = time.monotonic()
    if now - _pool_checked < at_most_every:
        return
    _pool_checked = now
    try:
        from tortoise.connection import get_connections

        client = get_connections().get("default")
    except Exception:  # the ORM is not up (yet): nothing to say
        return
    pool = getattr(client, "_pool", None)
    if pool is not None and hasattr(pool, "get_size"):
        size, idle, maximum = pool.get_size(), pool.get_idle_size(), pool.get_max_size()
    else:  # SQLite: one connection
        size, idle, maximum = 1, 1, 1
    DB_POOL.labels("size").set(size)
    DB_POOL.labels("idle").set(idle)
    DB_POOL.labels("in_use").set(size - idle)
    DB_POOL.labels("max").set(maximum)


class _Snapshot(Collector):
    """The database-backed families, from a snapshot taken just before the scrape."""

    def __init__(self, gauges: SystemGauges) -> None:
        self.g = gauges

    def collect(self) -> Iterable[Metric]:
        g = self.g
        builds = GaugeMetricFamily("buildstate_builds", "Builds by status", labels=["status"])
        by_status = {s: 0 for s in BUILD_STATUSES} | g.builds_by_status
        for status, n in sorted(by_status.items()):
            builds.add_metric([status], n)
        yield builds
        resumes = GaugeMetricFamily(
            "buildstate_resume_requests", "Resume requests by status and source",
            labels=["status", "source"],
        )
        for (status, source), n in sorted(g.resume_requests.items()):
            resumes.add_metric([status, source], n)
        yield resumes
        ratio = GaugeMetricFamily(
            "buildstate_resume_success_ratio",
            "Completed resume requests over those that ended (completed or failed)",
        )
        if g.resume_success_ratio is not None:
            ratio.add_metric([], g.resume_success_ratio)
        yield ratio
        attempts = CounterMetricFamily(
            "buildstate_orchestrator_trigger_attempts", "Orchestrator trigger attempts",
            labels=["platform", "status"],
        )
        failures = CounterMetricFamily(
            "buildstate_orchestrator_trigger_failures", "Orchestrator trigger attempts that failed",
            labels=["platform"],
        )
        failed_by_platform: dict[str, int] = {}
        for (platform, status), n in sorted(g.trigger_attempts.items()):
            attempts.add_metric([platform, status], n)
            if status == "failed":
                failed_by_platform[platform] = failed_by_platform.get(platform, 0) + n
        for platform, n in sorted(failed_by_platform.items()):
            failures.add_metric([platform], n)
        yield attempts
        yield failures
        deliveries = GaugeMetricFamily(
            "buildstate_webhook_deliveries", "Outbound webhook deliveries by status",
            labels=["status"],
        )
        for status, n in sorted(g.webhook_deliveries.items()):
            deliveries.add_metric([status], n)
        yield deliveries
        sends = CounterMetricFamily(
            "buildstate_webhook_delivery_attempts", "Outbound webhook sends by outcome",
            labels=["outcome"],
        )
        for outcome, n in sorted(g.webhook_attempts.items()):
            sends.add_metric([outcome], n)
        yield sends
        cleaned = CounterMetricFamily(
            "buildstate_cleanup_artifacts", "Artifacts cleanup has retired or deleted from storage",
            labels=["outcome"],
        )
        cleaned.add_metric(["retired"], g.cleanup.retired)
        cleaned.add_metric(["storage_deleted"], g.cleanup.storage_deleted)
        yield cleaned
        pending = GaugeMetricFamily(
            "buildstate_artifacts_expired_pending", "Expired live artifacts not yet retired",
        )
        pending.add_metric([], g.cleanup.pending_expired)
        yield pending


async def render_metrics() -> tuple[bytes, str]:
    """The exposition text: this process (or all of them, in multiprocess mode) plus the DB."""
    update_pool_gauges()
    gauges = await system_gauges()
    registry = CollectorRegistry()
    if MULTIPROCESS:
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    snapshot = CollectorRegistry()
    snapshot.register(_Snapshot(gauges))
    return body + generate_latest(snapshot), CONTENT_TYPE_LATEST


def mark_process_dead() -> None:
    """Called at shutdown: this process' live gauges stop counting."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())


def route_template(scope: Scope, status: int) -> str:
    route = scope.get("route")
    if route is None:
        return "<unmatched>"
    if isinstance(route, Mount):
        # A mount that answered itself (static files) or found nothing (the REST app's 404).
        return f"{route.path}/{{path}}" if route.path and status != 404 else "<unmatched>"
    return getattr(route, "path_format", None) or getattr(route, "path", None) or "<unmatched>"


def is_token_scrape(token: bytes | None, scope: Scope, headers: dict[bytes, bytes]) -> bool:
    """GET /metrics with `Authorization: Bearer <BUILDSTATE_METRICS_TOKEN>` (answered by
    app/middleware.py's EdgeMiddleware before authentication, so the token is no API key)."""
    if token is None or scope["path"] != "/metrics" or scope["method"] != "GET":
        return False
    header = headers.get(b"authorization", b"")
    scheme, _, value = header.partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(value.strip(), token)


def observe_http(scope: Scope, template: str, status: int, seconds: float) -> None:
    """Count and time an HTTP request by route template (the EdgeMiddleware calls it)."""
    method = scope["method"] if scope["method"] in _METHODS else "other"
    key = (method, template, status)
    timed = _http_children.get(key)
    if timed is None:
        timed = _http_children[key] = _Timed(
            HTTP_REQUESTS.labels(method, template, str(status)),
            HTTP_LATENCY.labels(method, template),
        )
    timed.observe(seconds)
    update_pool_gauges(at_most_every=1.0)


def count_http_failure(scope: Scope) -> None:
    """An exception escaped the application: counted as a 500 (not timed)."""
    method = scope["method"] if scope["method"] in _METHODS else "other"
    HTTP_REQUESTS.labels(method, route_template(scope, 500), "500").inc()


# The labelled children of the HTTP series, by (method, template, status): `labels()` checks and
# locks on every call; the label values are bounded already (route templates, known methods).
_http_children: dict[tuple[str, str, int], _Timed] = {}
