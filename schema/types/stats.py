"""Statistics: how builds fail, how resuming goes, and what it saves."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from app.services import stats as stats_service
from schema.context import Info


@strawberry.type
class StatusCount:
    status: str
    count: int


@strawberry.type(description="Failures recorded at one state code.")
class StateFailureCount:
    state_code: int
    state_name: str | None = strawberry.field(description="Known when the query names a project.")
    count: int


@strawberry.type(description="Resume requests that ended on one day (UTC).")
class DailyResumeRate:
    day: date
    completed: int
    failed: int
    rate: float | None = strawberry.field(description="completed / (completed + failed).")


@strawberry.type(description="Statistics over builds created (and resumes filed) since `since`.")
class Stats:
    project_id: strawberry.ID | None
    since: datetime | None
    builds_by_status: list[StatusCount]
    failures_by_state: list[StateFailureCount]
    resume_success_rate: float | None = strawberry.field(
        description="Of the resume requests that ended (completed or failed), the share completed."
    )
    median_time_to_resume_seconds: float | None = strawberry.field(
        description="Median time from a failure to the resumed run starting."
    )
    build_minutes_saved: float = strawberry.field(
        description="For each resume that got going, the minutes its earlier states took in the "
        "state history: what restarting from zero would have spent again."
    )
    resumes_started: int
    resume_success_by_day: list[DailyResumeRate]

    @classmethod
    def from_data(cls, s: stats_service.Stats) -> Stats:
        return cls(
            project_id=strawberry.ID(s.project_id) if s.project_id else None, since=s.since,
            builds_by_status=[StatusCount(status=c.status, count=c.count) for c in s.builds_by_status],
            failures_by_state=[
                StateFailureCount(state_code=c.state_code, state_name=c.state_name, count=c.count)
                for c in s.failures_by_state
            ],
            resume_success_rate=s.resume_success_rate,
            median_time_to_resume_seconds=s.median_time_to_resume_seconds,
            build_minutes_saved=s.build_minutes_saved, resumes_started=s.resumes_started,
            resume_success_by_day=[
                DailyResumeRate(day=d.day, completed=d.completed, failed=d.failed, rate=d.rate)
                for d in s.resume_success_by_day
            ],
        )


async def resolve_stats(info: Info, project_id: strawberry.ID | None, since: datetime | None) -> Stats:
    data = await stats_service.get_stats(
        actor=info.context.principal, project_id=str(project_id) if project_id else None, since=since
    )
    return Stats.from_data(data)
