"""Statistics over builds and resumes: what failed where, how resuming went, and what it saved.

Definitions (one place, used by GraphQL `stats`, REST `/dashboard/summary` and the dashboard):

- builds_by_status: builds created since `since`, counted by status (every status listed).
- failures_by_state: `failed` state entries since `since`, counted by state code.
- resume_success_rate: of the resume requests filed since `since` that have ended `completed` or
  `failed`, the share that completed (cancelled ones did not try); null when none ended.
- median_time_to_resume_seconds: for each resume request that got going, the time from the
  build's failure before the request to the resumed run starting: the start of the request's
  resume job when one was linked with a start time, else the moment the request became
  `running`. Null when no request got going.
- build_minutes_saved: for each resume that got going (reached `running`), the time the states
  before its `resume_from_state` took in the build's state history; a restart from zero would
  have spent it again. A state's time runs from the entry before its `completed` entry (its
  `in_progress` entry when there is one, else the previous state's entry, else the build's
  creation) to that `completed` entry; the last completion of a state counts. The wait between
  a failure and the resumed run is not work and is never counted.

How: a fixed handful of statements, whatever the number of builds. The database counts builds,
failures and ended requests per day (the success rate is summed from those few rows), and
works out each started request's time to resume in one statement (correlated subqueries; date
arithmetic and JSON access are the only parts written per dialect). The median is taken here
over those numbers, one per started resume: SQLite has no percentile function. The minutes
saved walk each resumed build's history in order (`state_durations`), which is not portable
SQL: that reads only four columns of those builds' state entries, in one statement.
"""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from tortoise.expressions import RawSQL
from tortoise.functions import Count

from app.services.actor import Actor
from app.services.commands import BuildStatus
from app.services.projects import get_project
from db.models import Build, BuildState, ResumeRequest, StateCode

ENDED = ("completed", "failed")


@dataclass(frozen=True)
class StatusCount:
    status: str
    count: int


@dataclass(frozen=True)
class StateCount:
    state_code: int
    state_name: str | None
    count: int


@dataclass(frozen=True)
class DailyResumeRate:
    day: date
    completed: int
    failed: int

    @property
    def rate(self) -> float | None:
        ended = self.completed + self.failed
        return self.completed / ended if ended else None


@dataclass(frozen=True)
class Stats:
    project_id: str | None
    since: datetime | None
    builds_by_status: list[StatusCount]
    failures_by_state: list[StateCount]
    resume_success_rate: float | None
    median_time_to_resume_seconds: float | None
    build_minutes_saved: float
    resumes_started: int
    resume_success_by_day: list[DailyResumeRate]


async def get_stats(
    *, actor: Actor, project_id: str | None = None, since: datetime | None = None
) -> Stats:
    """Builds by status, failures by state, resume success, time to resume and minutes saved."""
    actor.require("read")
    if project_id is not None:
        await get_project(actor=actor, project_id=project_id)
    by_day = await success_by_day(project_id, since)
    started = await _started_resumes(project_id, since)
    waits = [r.wait_seconds for r in started if r.wait_seconds is not None and r.wait_seconds >= 0]
    return Stats(
        project_id=project_id,
        since=since,
        builds_by_status=await builds_by_status(project_id, since),
        failures_by_state=await failures_by_state(project_id, since),
        resume_success_rate=success_rate(by_day),
        median_time_to_resume_seconds=statistics.median(waits) if waits else None,
        build_minutes_saved=await _minutes_saved(started),
        resumes_started=len(started),
        resume_success_by_day=by_day,
    )


# Every figure but the minutes saved is computed by the database. The statements are the same
# on both dialects except for date arithmetic and JSON access, which `_sql` picks per dialect.


def _dialect() -> str:
    return Build._meta.db.capabilities.dialect


def _sql(*, sqlite: str, postgres: str) -> RawSQL:
    return RawSQL(postgres if _dialect() == "postgres" else sqlite)


def _requests(project_id: str | None, since: datetime | None):
    query = ResumeRequest.all()
    if project_id is not None:
        query = query.filter(build__project_id=project_id)
    if since is not None:
        query = query.filter(created_at__gte=since)
    return query


async def builds_by_status(project_id: str | None, since: datetime | None) -> list[StatusCount]:
    query = Build.all()
    if project_id is not None:
        query = query.filter(project_id=project_id)
    if since is not None:
        query = query.filter(created_at__gte=since)
    rows = await query.annotate(n=Count("id")).group_by("status").values_list("status", "n")
    found = {status: int(n) for status, n in rows}
    return [StatusCount(s, found.pop(s, 0)) for s in BuildStatus.__members__] + [
        StatusCount(s, n) for s, n in sorted(found.items())
    ]


async def failures_by_state(project_id: str | None, since: datetime | None) -> list[StateCount]:
    query = BuildState.filter(status="failed")
    if project_id is not None:
        query = query.filter(build__project_id=project_id)
    if since is not None:
        query = query.filter(created_at__gte=since)
    rows = await query.annotate(n=Count("id")).group_by("state_code").values_list("state_code", "n")
    names: dict[int, str] = {}
    if project_id is not None:
        names = dict(await StateCode.filter(project_id=project_id).values_list("code", "name"))
    return [StateCount(int(code), names.get(int(code)), int(n)) for code, n in sorted(rows)]


# The day a resume request ended (UTC).
_ENDED_DAY = dict(
    sqlite='date(COALESCE("resume_requests"."completed_at", "resume_requests"."updated_at"))',
    postgres='CAST(COALESCE("resume_requests"."completed_at", "resume_requests"."updated_at") '
    "AT TIME ZONE 'UTC' AS DATE)",
)


async def success_by_day(project_id: str | None, since: datetime | None) -> list[DailyResumeRate]:
    """Requests that ended `completed` or `failed`, counted per day they ended."""
    rows = await (
        _requests(project_id, since).filter(status__in=ENDED)
        .annotate(day=_sql(**_ENDED_DAY), n=Count("id"))
        .group_by("day", "status")
        .values_list("day", "status", "n")
    )
    days: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for day, status, n in rows:
        when = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
        days[when][0 if status == "completed" else 1] += int(n)
    return [DailyResumeRate(d, c, f) for d, (c, f) in sorted(days.items())]


def success_rate(by_day: list[DailyResumeRate]) -> float | None:
    completed = sum(d.completed for d in by_day)
    ended = completed + sum(d.failed for d in by_day)
    return completed / ended if ended else None


# When a request's resumed run started: its resume job's start, else the moment it became
# `running`, else (moved on outside the state API) when it was triggered.
_RR = '"resume_requests"'
_STARTED_PARTS = dict(
    job=f"(SELECT MIN(j.started_at) FROM build_jobs j WHERE j.resume_request_id = {_RR}.id)",
    running="(SELECT e.created_at FROM events e WHERE e.target_type = 'resume_request' "
    "AND e.action = 'resume.status_changed' AND e.target_id = {rr_id} AND {status} = 'running' "
    "ORDER BY e.id LIMIT 1)",
    triggered=f"CASE WHEN {_RR}.status IN ('running', 'completed') THEN {_RR}.triggered_at END",
)
# The build's last failure at or before the request.
_LAST_FAILURE = (
    f"(SELECT MAX(s.created_at) FROM build_states s WHERE s.build_id = {_RR}.build_id "
    f"AND s.status = 'failed' AND s.created_at <= {_RR}.created_at)"
)


def _started_sql(dialect: str) -> str:
    if dialect == "postgres":
        running = _STARTED_PARTS["running"].format(
            rr_id=f"CAST({_RR}.id AS VARCHAR)", status="e.data->'after'->>'status'")
    else:
        running = _STARTED_PARTS["running"].format(
            rr_id=f"{_RR}.id", status="json_extract(e.data, '$.after.status')")
    return f"COALESCE({_STARTED_PARTS['job']}, {running}, {_STARTED_PARTS['triggered']})"


def _wait_sql(dialect: str) -> str:
    started = _started_sql(dialect)
    if dialect == "postgres":
        return f"EXTRACT(EPOCH FROM ({started} - {_LAST_FAILURE}))"
    return f"(julianday({started}) - julianday({_LAST_FAILURE})) * 86400.0"


@dataclass(frozen=True)
class _Started:
    build_id: uuid.UUID
    build_created_at: datetime
    resume_from_state: int
    requested_at: datetime
    wait_seconds: float | None  # from the failure before the request to the resumed run


async def _started_resumes(project_id: str | None, since: datetime | None) -> list[_Started]:
    """The requests whose resumed run started, one row each with its time to resume."""
    dialect = _dialect()
    rows = await (
        _requests(project_id, since)
        .annotate(started=RawSQL(_started_sql(dialect)), wait=RawSQL(_wait_sql(dialect)))
        .filter(started__isnull=False)
        .values_list("build_id", "build__created_at", "resume_from_state", "created_at", "wait")
    )
    return [
        _Started(build_id, built, int(code), at, float(wait) if wait is not None else None)
        for build_id, built, code, at, wait in rows
    ]


def state_durations(
    build_created_at: datetime, entries: Sequence[BuildState | _Entry], before: datetime | None = None
) -> dict[int, float]:
    """Seconds each state took to complete (its last completion), from a build's history."""
    durations: dict[int, float] = {}
    started: dict[int, datetime] = {}
    previous = build_created_at
    after_failure = False
    for entry in entries:
        if before is not None and entry.created_at > before:
            break
        if after_failure:
            # A new run begins here: the wait since the failure is not work.
            previous, started = entry.created_at, {}
            after_failure = False
        if entry.status == "in_progress":
            started.setdefault(entry.state_code, entry.created_at)
        elif entry.status == "completed":
            begin = started.pop(entry.state_code, previous)
            durations[entry.state_code] = max(0.0, (entry.created_at - begin).total_seconds())
        elif entry.status == "failed":
            started.pop(entry.state_code, None)
            after_failure = True
        previous = entry.created_at
    return durations


@dataclass(frozen=True)
class _Entry:
    state_code: int
    status: str
    created_at: datetime


async def _minutes_saved(started: list[_Started]) -> float:
    """Not portable SQL (the walk through each history is stateful): it reads only the four
    columns it needs of the resumed builds' histories, in one statement."""
    if not started:
        return 0.0
    histories: dict[uuid.UUID, list[_Entry]] = defaultdict(list)
    rows = await BuildState.filter(build_id__in=list({r.build_id for r in started})).order_by(
        "created_at", "id"
    ).values_list("build_id", "state_code", "status", "created_at")
    for build_id, code, status, at in rows:
        histories[build_id].append(_Entry(code, status, at))
    seconds = 0.0
    for r in started:
        durations = state_durations(r.build_created_at, histories[r.build_id], before=r.requested_at)
        seconds += sum(d for code, d in durations.items() if code < r.resume_from_state)
    return round(seconds / 60.0, 2)
