"""app/metrics.py counts and times through prometheus_client's value objects (`_Timed`) instead of
Counter.inc and Histogram.observe: the exposition must be the one the public API writes, for
any duration (bucket bounds exactly, between them, negative, zero, beyond the last, NaN), and
observe_graphql must label operations as operation_label does."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from app import metrics
from app.metrics import LATENCY_BUCKETS, _Timed

DURATIONS = [
    0.0, -1.0, 1e-9, 0.004999, 0.005, 0.0050001, 0.01, 0.02, 0.025, 0.3, 0.5, 1.0, 2.5, 4.9,
    5.0, 10.0, 10.0001, 1e6, math.inf, -math.inf, math.nan,
]


def _pair(registry: CollectorRegistry) -> tuple[Counter, Histogram]:
    counter = Counter("h7_requests", "requests", ["route"], registry=registry)
    histogram = Histogram("h7_duration_seconds", "duration", ["route"],
                          buckets=LATENCY_BUCKETS, registry=registry)
    return counter, histogram


@pytest.mark.parametrize("durations", [DURATIONS, DURATIONS[::-1], [0.003] * 5, []])
def test_timed_writes_the_exposition_of_inc_and_observe(durations) -> None:
    public, fast = CollectorRegistry(), CollectorRegistry()
    counter, histogram = _pair(public)
    fast_counter, fast_histogram = _pair(fast)
    timed = {r: _Timed(fast_counter.labels(r), fast_histogram.labels(r)) for r in ("/a", "/b")}
    for route in ("/a", "/b"):  # the children in the same order (the exposition's)
        counter.labels(route)
        histogram.labels(route)
    for i, seconds in enumerate(durations):
        route = "/a" if i % 3 else "/b"
        counter.labels(route).inc()
        histogram.labels(route).observe(seconds)
        timed[route].observe(seconds)
    assert generate_latest(fast) == generate_latest(public)


def test_observe_graphql_labels_as_operation_label(monkeypatch) -> None:
    """The by-name shortcut gives each name the children operation_label picks: its own
    label, anonymous, invalid, and "other" once the bounded set of names is full."""
    monkeypatch.setattr(metrics, "_operation_names", set())
    monkeypatch.setattr(metrics, "_MAX_OPERATION_NAMES", 2)
    monkeypatch.setattr(metrics, "_graphql_by_name", {})
    monkeypatch.setattr(metrics, "_graphql_children", {})

    def sample(name: str, **labels: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    names = [None, "", "first", "first", "bad-name", "second", "third", "third", None, "first",
             "9starts_with_a_digit", "x" * 65]
    expected = [
        "anonymous", "anonymous", "first", "first", "invalid", "second", "other", "other",
        "anonymous", "first", "invalid", "invalid",
    ]
    def series(label: str, outcome: str) -> tuple[float, ...]:
        return (
            sample("buildstate_graphql_operations_total",
                   operation=label, type="mutation", outcome=outcome),
            sample("buildstate_graphql_operation_duration_seconds_count",
                   operation=label, type="mutation"),
            sample("buildstate_graphql_operation_duration_seconds_bucket",
                   operation=label, type="mutation", le="0.01"),
            sample("buildstate_graphql_errors_total", operation=label),
        )

    for name, label in zip(names, expected, strict=True):
        for errors in (0, 2):
            outcome = "error" if errors else "ok"
            before = series(label, outcome)
            metrics.observe_graphql(name, "mutation", 0.007, errors)
            after = series(label, outcome)
            assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, errors], name
    # Only names that are their own label (and no name) are remembered: the others are chosen
    # by clients without bound.
    assert {key[0] for key in metrics._graphql_by_name} == {None, "first", "second"}
    assert metrics._operation_names == {"first", "second"}


def test_observe_http_counts_and_times_by_template() -> None:
    scope = {"method": "PATCH", "type": "http"}
    labels = {"method": "PATCH", "route": "/h7/{x}"}

    def sample(name: str, **extra: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, {**labels, **extra}) or 0.0

    before = (sample("buildstate_http_requests_total", status="204"),
              sample("buildstate_http_request_duration_seconds_bucket", le="0.025"),
              sample("buildstate_http_request_duration_seconds_bucket", le="0.01"),
              sample("buildstate_http_request_duration_seconds_sum"))
    for _ in range(2):
        metrics.observe_http(scope, "/h7/{x}", 204, 0.02)
    after = (sample("buildstate_http_requests_total", status="204"),
             sample("buildstate_http_request_duration_seconds_bucket", le="0.025"),
             sample("buildstate_http_request_duration_seconds_bucket", le="0.01"),
             sample("buildstate_http_request_duration_seconds_sum"))
    assert [a - b for a, b in zip(after, before, strict=True)] == pytest.approx([2, 2, 0, 0.04])


def test_new_request_id_is_uuid4_hex(monkeypatch) -> None:
    """Given the same 16 random bytes, new_request_id writes what uuid.uuid4().hex writes."""
    import os
    import uuid

    from app import middleware

    samples = [bytes(16), b"\xff" * 16, bytes(range(16)), *(os.urandom(16) for _ in range(500))]
    for raw in samples:
        monkeypatch.setattr(middleware.os, "urandom", lambda n, raw=raw: raw[:n])
        monkeypatch.setattr(uuid.os, "urandom", lambda n, raw=raw: raw[:n])
        assert middleware.new_request_id() == uuid.uuid4().hex
        monkeypatch.undo()
    ids = {middleware.new_request_id() for _ in range(100)}
    assert len(ids) == 100 and all(uuid.UUID(i).version == 4 for i in ids)
