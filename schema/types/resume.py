"""Resume requests: the decision to continue a failed build, and its audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from db import models
from schema.context import Info
from schema.enums import RequestSource, ResumeStatus
from schema.scalars import JSON

if TYPE_CHECKING:
    from schema.types.build import Build


@strawberry.type(description="A variable the request overrode (values masked when sensitive).")
class VariableChange:
    key: str
    old: str | None = strawberry.field(description="The value before; null when it was not set.")
    new: str | None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> VariableChange:
        return cls(key=str(record.get("key")), old=record.get("old"), new=record.get("new"))


@strawberry.type(description="One try of the orchestrator to start a resume request's CI job.")
class TriggerAttempt:
    id: strawberry.ID
    attempt: int = strawberry.field(description="1 for the first try.")
    platform: str
    worker: str = strawberry.field(description="The worker process that made the call.")
    status: str = strawberry.field(description="sending | succeeded | failed")
    error: str | None
    response: JSON = strawberry.field(description="What the CI answered: target, job reference.")
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_model(cls, m: models.TriggerAttempt) -> TriggerAttempt:
        return cls(
            id=strawberry.ID(str(m.id)), attempt=m.attempt, platform=m.platform, worker=m.worker,
            status=m.status, error=m.error, response=m.response or {},
            started_at=m.started_at, finished_at=m.finished_at,
        )


@strawberry.type(description="A request to continue a build from a state; who asked, when and why.")
class ResumeRequest:
    id: strawberry.ID
    build_id: strawberry.Private[uuid.UUID]
    status: ResumeStatus
    resume_from_state: int
    resume_to_state: int | None = strawberry.field(description="Null: run to the end.")
    resume_reason: str
    requested_by: str
    request_source: RequestSource
    orchestration_config: JSON = strawberry.field(description="platform, pipeline, job, trigger url.")
    orchestration_job_id: str | None
    orchestration_job_url: str | None
    orchestration_status: str | None
    attempts: int
    variable_changes: list[VariableChange]
    triggered_at: datetime | None
    completed_at: datetime | None
    error_message: str | None
    metadata: JSON
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, m: models.ResumeRequest) -> ResumeRequest:
        return cls(
            id=strawberry.ID(str(m.id)), build_id=m.build_id, status=ResumeStatus(m.status),
            resume_from_state=m.resume_from_state, resume_to_state=m.resume_to_state,
            resume_reason=m.resume_reason, requested_by=m.requested_by,
            request_source=RequestSource(m.request_source),
            orchestration_config=m.orchestration_config or {},
            orchestration_job_id=m.orchestration_job_id,
            orchestration_job_url=m.orchestration_job_url,
            orchestration_status=m.orchestration_status, attempts=m.attempts,
            variable_changes=[VariableChange.from_record(c) for c in m.variable_changes or []],
            triggered_at=m.triggered_at, completed_at=m.completed_at,
            error_message=m.error_message, metadata=m.metadata or {}, version=m.version,
            created_at=m.created_at, updated_at=m.updated_at,
        )

    @strawberry.field(description="Every try of the orchestrator to start the CI job, oldest first.")
    async def trigger_attempts(self, info: Info) -> list[TriggerAttempt]:
        rows = await info.context.loaders.trigger_attempts.load(uuid.UUID(str(self.id)))
        return [TriggerAttempt.from_model(r) for r in rows]

    @strawberry.field(description="The build to resume.")
    async def build(
        self, info: Info
    ) -> Annotated["Build", strawberry.lazy("schema.types.build")] | None:
        from schema.types.build import Build

        row = await info.context.loaders.build.load(self.build_id)
        return Build.from_model(row) if row else None
