"""Metrics, the dashboard's summary, and the audit trail across builds."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from app.metrics import render_metrics
from app.rest.deps import Reader
from app.rest.schemas import EventOut
from app.services import audit, dashboard

router = APIRouter()


@router.get(
    "/metrics", tags=["System"], response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(actor: Reader):
    """Prometheus metrics. Needs the read scope, or the token configured in
    BUILDSTATE_METRICS_TOKEN sent as `Authorization: Bearer <token>` (for Prometheus)."""
    body, content_type = await render_metrics()
    return Response(body, media_type=content_type)


class StatusCountOut(BaseModel):
    status: str
    count: int


class StateCountOut(BaseModel):
    state_code: int
    state_name: str | None
    count: int


class DailyRateOut(BaseModel):
    day: date
    completed: int
    failed: int
    rate: float | None


class StepOut(BaseModel):
    code: int
    name: str | None
    state: str


class BuildProgressOut(BaseModel):
    id: uuid.UUID
    project_id: str
    build_number: int
    status: str
    current_state: int
    last_successful_state: int | None
    failed_state: int | None
    resume_count: int
    created_at: datetime
    updated_at: datetime
    steps: list[StepOut]


class OpenResumeOut(BaseModel):
    id: uuid.UUID
    build_id: uuid.UUID
    project_id: str
    build_number: int
    status: str
    resume_from_state: int
    resume_reason: str
    requested_by: str
    request_source: str
    created_at: datetime


class SummaryOut(BaseModel):
    generated_at: datetime
    project_id: str | None
    since: datetime | None
    builds_by_status: list[StatusCountOut]
    failures_by_state: list[StateCountOut]
    resume_success_rate: float | None
    median_time_to_resume_seconds: float | None
    build_minutes_saved: float
    resumes_started: int
    resume_success_by_day: list[DailyRateOut]
    recent_builds: list[BuildProgressOut]
    open_resume_requests: list[OpenResumeOut]


@router.get("/dashboard/summary", response_model=SummaryOut, tags=["System"])
async def summary(
    actor: Reader, project_id: str | None = None, since: datetime | None = None,
    recent: int = Query(12, ge=1, le=100),
):
    """The statistics (as GraphQL `stats`, in snake_case) plus recent builds and open resumes."""
    view = await dashboard.overview(actor=actor, project_id=project_id, since=since, recent=recent)
    s = view.stats
    return SummaryOut(
        generated_at=view.generated_at, project_id=s.project_id, since=s.since,
        builds_by_status=[StatusCountOut(status=c.status, count=c.count) for c in s.builds_by_status],
        failures_by_state=[
            StateCountOut(state_code=c.state_code, state_name=c.state_name, count=c.count)
            for c in s.failures_by_state
        ],
        resume_success_rate=s.resume_success_rate,
        median_time_to_resume_seconds=s.median_time_to_resume_seconds,
        build_minutes_saved=s.build_minutes_saved,
        resumes_started=s.resumes_started,
        resume_success_by_day=[
            DailyRateOut(day=d.day, completed=d.completed, failed=d.failed, rate=d.rate)
            for d in s.resume_success_by_day
        ],
        recent_builds=[BuildProgressOut.model_validate(b, from_attributes=True) for b in view.recent_builds],
        open_resume_requests=[
            OpenResumeOut.model_validate(r, from_attributes=True) for r in view.open_resume_requests
        ],
    )


class EventPageOut(BaseModel):
    events: list[EventOut]
    has_next: bool
    end_cursor: str | None


@router.get("/events", response_model=EventPageOut, tags=["Audit"])
async def list_events(
    actor: Reader,
    build_id: str | None = None, project_id: str | None = None,
    actor_name: str | None = Query(None, alias="actor"),
    action: str | None = Query(None, description="An action, or a family such as `resume.*`"),
    target_type: str | None = None, target_id: str | None = None,
    request_id: str | None = None, since: datetime | None = None, until: datetime | None = None,
    first: int = Query(50, ge=1, le=500), after: str | None = None,
    newest_first: bool = False,
):
    """The audit trail across builds, filtered; page on with `after` = the previous `end_cursor`."""
    page = await audit.list_events(
        actor=actor, first=first, after=after, newest_first=newest_first,
        filter=audit.EventFilter(
            build_id=build_id, project_id=project_id, actor=actor_name, action=action,
            target_type=target_type, target_id=target_id, request_id=request_id,
            since=since, until=until,
        ),
    )
    return EventPageOut(
        events=[EventOut.model_validate(e) for e in page.events],
        has_next=page.has_next, end_cursor=page.end_cursor,
    )
