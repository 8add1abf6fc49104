"""Statistics against builds whose state history is written by hand with known timings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.services import stats
from app.services.actor import Actor
from db.models import Build, BuildJob, BuildState, Event, ResumeRequest
from tests import factories as f
from tests.conftest import READ_KEY

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)


async def _history(build: Build, *entries: tuple[timedelta, int, str]) -> None:
    base = build.created_at
    for offset, code, status in entries:
        await BuildState.create(build_id=build.id, state_code=code, status=status,
                                created_at=base + offset)


async def _running(request: ResumeRequest, build: Build, at: datetime) -> None:
    await Event.create(
        actor="test", action="resume.status_changed", target_type="resume_request",
        target_id=str(request.id), project_id=build.project_id, build_id=build.id,
        data={"before": {"status": "triggered"}, "after": {"status": "running"}}, created_at=at,
    )


@pytest.fixture
async def scenario(database, writer) -> str:
    """Five builds; two resumed (one completed, one failed again), one resume cancelled."""
    pid = await f.project(writer)
    # A: 10 took 10 min, 20 took 20, 30 took 20 (no in_progress entry), failed at 35 after 60 min.
    # Resumed from 35: its job started 18 min after the failure. Saved: 10+20+20 = 50 min.
    a = await Build.create(project_id=pid, build_number=1, status="completed", current_state=100,
                           created_at=T0)
    await _history(a, (0 * MIN, 10, "in_progress"), (10 * MIN, 10, "completed"),
                   (10 * MIN, 20, "in_progress"), (30 * MIN, 20, "completed"),
                   (50 * MIN, 30, "completed"), (60 * MIN, 35, "failed"),
                   (80 * MIN, 35, "in_progress"), (90 * MIN, 35, "completed"),
                   (100 * MIN, 100, "completed"))
    ra = await ResumeRequest.create(
        build_id=a.id, resume_from_state=35, resume_reason="mirror down", requested_by="ops",
        status="completed", created_at=T0 + 70 * MIN, triggered_at=T0 + 75 * MIN,
        completed_at=T0 + 100 * MIN)
    await _running(ra, a, T0 + 80 * MIN)
    await BuildJob.create(build_id=a.id, platform="jenkins", is_resume_job=True,
                          resume_request_id=ra.id, started_at=T0 + 78 * MIN, status="success")
    # B (a day later): 10 took 5 min, failed at 20 after 25; resumed from 20, running 20 min
    # after the failure (no job linked), failed again. Saved: 5 min.
    b = await Build.create(project_id=pid, build_number=2, status="failed", current_state=20,
                           created_at=T0 + timedelta(days=1))
    # (Entries at one instant have no order: ids are UUIDs. Keep them a second apart.)
    await _history(b, (5 * MIN, 10, "completed"), (5 * MIN + SEC, 20, "in_progress"),
                   (25 * MIN, 20, "failed"), (45 * MIN, 20, "in_progress"), (60 * MIN, 20, "failed"))
    rb = await ResumeRequest.create(
        build_id=b.id, resume_from_state=20, resume_reason="retry", requested_by="ops",
        request_source="auto", status="failed", created_at=b.created_at + 40 * MIN,
        completed_at=b.created_at + 60 * MIN)
    await _running(rb, b, b.created_at + 45 * MIN)
    # C: failed at 20; its resume was cancelled before it ran: it counts nowhere.
    c = await Build.create(project_id=pid, build_number=3, status="failed", current_state=10,
                           last_successful_state=10, failed_state=20,
                           created_at=T0 + timedelta(days=2))
    await _history(c, (10 * MIN, 10, "completed"), (12 * MIN, 20, "failed"))
    await ResumeRequest.create(
        build_id=c.id, resume_from_state=20, resume_reason="maybe", requested_by="ops",
        status="cancelled", created_at=c.created_at + 20 * MIN, completed_at=c.created_at + 21 * MIN)
    # D running, E pending.
    d = await Build.create(project_id=pid, build_number=4, status="running", current_state=10,
                           created_at=T0 + timedelta(days=3))
    await _history(d, (1 * MIN, 10, "in_progress"))
    await Build.create(project_id=pid, build_number=5, created_at=T0 + timedelta(days=3))
    return pid


async def test_statistics_of_the_scenario(scenario, reader: Actor):
    s = await stats.get_stats(actor=reader, project_id=scenario)
    assert {c.status: c.count for c in s.builds_by_status} == {
        "pending": 1, "running": 1, "failed": 2, "completed": 1, "cancelled": 0}
    assert [(c.state_code, c.state_name, c.count) for c in s.failures_by_state] == [
        (20, "install packages", 3), (35, "harden", 1)]
    assert s.resume_success_rate == 0.5
    assert s.median_time_to_resume_seconds == pytest.approx((18 * 60 + 20 * 60) / 2)
    assert s.build_minutes_saved == pytest.approx(55.0)
    assert s.resumes_started == 2
    assert [(d.day.isoformat(), d.completed, d.failed, d.rate) for d in s.resume_success_by_day] == [
        ("2026-01-05", 1, 0, 1.0), ("2026-01-06", 0, 1, 0.0)]


async def test_since_narrows_every_figure(scenario, reader: Actor):
    s = await stats.get_stats(actor=reader, project_id=scenario, since=T0 + timedelta(hours=20))
    assert {c.status: c.count for c in s.builds_by_status} == {
        "pending": 1, "running": 1, "failed": 2, "completed": 0, "cancelled": 0}
    assert [(c.state_code, c.count) for c in s.failures_by_state] == [(20, 3)]
    assert s.resume_success_rate == 0.0
    assert s.median_time_to_resume_seconds == pytest.approx(20 * 60)
    assert s.build_minutes_saved == pytest.approx(5.0)


async def test_nothing_to_say_is_null_not_zero(database, writer, reader):
    pid = await f.project(writer)
    s = await stats.get_stats(actor=reader, project_id=pid)
    assert s.resume_success_rate is None and s.median_time_to_resume_seconds is None
    assert s.build_minutes_saved == 0.0 and s.failures_by_state == []


def _entry(minutes: float, code: int, status: str) -> BuildState:
    return BuildState(state_code=code, status=status, created_at=T0 + minutes * MIN)


def test_state_durations_last_completion_counts_and_waits_do_not():
    entries = [
        _entry(0, 10, "in_progress"), _entry(4, 10, "completed"),
        _entry(9, 20, "completed"),  # no in_progress: from the previous entry, 5 min
        _entry(15, 30, "failed"),
        _entry(300, 20, "in_progress"), _entry(307, 20, "completed"),  # redone: 7 min counts
        _entry(310, 30, "completed"),  # after its in_progress-less start: 3 min
    ]
    assert stats.state_durations(T0, entries) == {10: 240.0, 20: 420.0, 30: 180.0}
    assert stats.state_durations(T0, entries, before=T0 + 20 * MIN) == {10: 240.0, 20: 300.0}


async def test_rest_summary_speaks_snake_case(scenario, client):
    r = await client.get("/dashboard/summary", params={"project_id": scenario},
                         headers={"X-API-Key": READ_KEY})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["build_minutes_saved"] == pytest.approx(55.0)
    assert body["resume_success_rate"] == 0.5
    assert body["median_time_to_resume_seconds"] == pytest.approx(1140.0)
    assert {c["state_code"]: c["count"] for c in body["failures_by_state"]} == {20: 3, 35: 1}
    assert len(body["recent_builds"]) == 5 and body["open_resume_requests"] == []
    a = next(b for b in body["recent_builds"] if b["build_number"] == 1)
    assert {s["state"] for s in a["steps"]} == {"done"}
    c = next(b for b in body["recent_builds"] if b["build_number"] == 3)
    assert [(s["code"], s["state"]) for s in c["steps"]] == [
        (10, "done"), (20, "failed"), (30, "todo"), (35, "todo"), (40, "todo"), (100, "todo")]
    assert (await client.get("/dashboard/summary", headers={"X-API-Key": ""})).status_code == 401


async def _resumed_builds(writer, count: int) -> str:
    """`count` builds that failed at 20 after 10 took 4 minutes, each resumed and running."""
    pid = await f.project(writer)
    for number in range(1, count + 1):
        b = await Build.create(project_id=pid, build_number=number, status="running",
                               current_state=20, created_at=T0)
        await _history(b, (0 * MIN, 10, "in_progress"), (4 * MIN, 10, "completed"),
                       (6 * MIN, 20, "failed"), (20 * MIN, 20, "in_progress"))
        r = await ResumeRequest.create(
            build_id=b.id, resume_from_state=20, resume_reason="retry", requested_by="ops",
            status="completed" if number % 2 else "failed", created_at=T0 + 10 * MIN,
            triggered_at=T0 + 12 * MIN, completed_at=T0 + 30 * MIN)
        await _running(r, b, T0 + 20 * MIN)
    return pid


async def test_statements_do_not_grow_with_builds(database, writer, reader, monkeypatch):
    """Every figure comes from a fixed number of statements, whatever the number of builds."""
    from tests.graphql.test_query_count import counting_statements

    small, large = await _resumed_builds(writer, 2), await _resumed_builds(writer, 12)
    with counting_statements(monkeypatch) as seen_small:
        s2 = await stats.get_stats(actor=reader, project_id=small)
    with counting_statements(monkeypatch) as seen_large:
        s12 = await stats.get_stats(actor=reader, project_id=large)
    assert len(seen_small) == len(seen_large) <= 8, seen_large
    assert (s2.resumes_started, s12.resumes_started) == (2, 12)
    assert s2.build_minutes_saved == pytest.approx(8.0) and s12.build_minutes_saved == pytest.approx(48.0)
    assert s12.median_time_to_resume_seconds == pytest.approx(14 * 60)
    assert s12.resume_success_rate == 0.5
    assert [(d.day.isoformat(), d.completed, d.failed) for d in s12.resume_success_by_day] == [
        ("2026-01-05", 6, 6)]
