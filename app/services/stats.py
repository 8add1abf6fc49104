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
"""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from tortoise.functions import Count

from app.services.actor import Actor
from app.services.commands import BuildStatus
from app.services.projects import get_project
from db.models import Build, BuildJob, BuildState, Event, ResumeRequest, StateCode

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
    requests = await _resume_requests(project_id, since)
    started_at = await _resumed_at(requests)
    return Stats(
        project_id=project_id,
        since=since,
        builds_by_status=await builds_by_status(project_id, since),
        failures_by_state=await failures_by_state(project_id, since),
        resume_success_rate=success_rate(requests),
        median_time_to_resume_seconds=await _median_time_to_resume(requests, started_at),
        build_minutes_saved=await _minutes_saved(requests, started_at),
        resumes_started=len(started_at),
        resume_success_by_day=success_by_day(requests),
    )


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


async def _resume_requests(project_id: str | None, since: datetime | None) -> list[ResumeRequest]:
    query = ResumeRequest.all()
    if project_id is not None:
        query = query.filter(build__project_id=project_id)
    if since is not None:
        query = query.filter(created_at__gte=since)
    return await query.order_by("created_at")


def success_rate(requests: list[ResumeRequest]) -> float | None:
    ended = [r for r in requests if r.status in ENDED]
    if not ended:
        return None
    return sum(r.status == "completed" for r in ended) / len(ended)


def success_by_day(requests: list[ResumeRequest]) -> list[DailyResumeRate]:
    days: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for r in requests:
        if r.status in ENDED:
            when = (r.completed_at or r.updated_at).date()
            days[when][0 if r.status == "completed" else 1] += 1
    return [DailyResumeRate(d, c, f) for d, (c, f) in sorted(days.items())]


async def _resumed_at(requests: list[ResumeRequest]) -> dict[uuid.UUID, datetime]:
    """When each request's resumed run started; requests that never got going are absent."""
    if not requests:
        return {}
    ids = [r.id for r in requests]
    running: dict[uuid.UUID, datetime] = {}
    events = await Event.filter(
        target_type="resume_request", action="resume.status_changed",
        target_id__in=[str(i) for i in ids],
    ).order_by("id")
    for e in events:
        if (e.data.get("after") or {}).get("status") == "running":
            running.setdefault(uuid.UUID(e.target_id), e.created_at)
    jobs: dict[uuid.UUID, datetime] = {}
    for job in await BuildJob.filter(resume_request_id__in=ids, started_at__isnull=False):
        current = jobs.get(job.resume_request_id)
        if current is None or job.started_at < current:
            jobs[job.resume_request_id] = job.started_at
    out: dict[uuid.UUID, datetime] = {}
    for r in requests:
        when = jobs.get(r.id) or running.get(r.id)
        if when is None and r.status in ("running", "completed"):
            when = r.triggered_at  # moved on outside the state API: the best we know
        if when is not None:
            out[r.id] = when
    return out


async def _histories(build_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[BuildState]]:
    out: dict[uuid.UUID, list[BuildState]] = defaultdict(list)
    if build_ids:
        for entry in await BuildState.filter(build_id__in=list(build_ids)).order_by("created_at", "id"):
            out[entry.build_id].append(entry)
    return out


async def _median_time_to_resume(
    requests: list[ResumeRequest], started_at: dict[uuid.UUID, datetime]
) -> float | None:
    going = [r for r in requests if r.id in started_at]
    histories = await _histories({r.build_id for r in going})
    waits: list[float] = []
    for r in going:
        failures = [
            e.created_at for e in histories[r.build_id]
            if e.status == "failed" and e.created_at <= r.created_at
        ]
        if failures:
            seconds = (started_at[r.id] - failures[-1]).total_seconds()
            if seconds >= 0:
                waits.append(seconds)
    return statistics.median(waits) if waits else None


def state_durations(
    build_created_at: datetime, entries: list[BuildState], before: datetime | None = None
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


async def _minutes_saved(
    requests: list[ResumeRequest], started_at: dict[uuid.UUID, datetime]
) -> float:
    going = [r for r in requests if r.id in started_at]
    if not going:
        return 0.0
    histories = await _histories({r.build_id for r in going})
    created = dict(
        await Build.filter(id__in=list({r.build_id for r in going})).values_list("id", "created_at")
    )
    seconds = 0.0
    for r in going:
        durations = state_durations(created[r.build_id], histories[r.build_id], before=r.created_at)
        seconds += sum(d for code, d in durations.items() if code < r.resume_from_state)
    return round(seconds / 60.0, 2)
