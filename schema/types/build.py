"""Builds, their append-only state history, and every list hanging off a build."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.services import context as context_service
from app.services import variables as variable_service
from app.services.artifacts import ArtifactFilter
from db import models
from schema.context import Info
from schema.enums import BuildStatus, StateStatus
from schema.scalars import JSON
from schema.types.artifact import Artifact
from schema.types.context import ResumeContext
from schema.types.job import Job
from schema.types.project import Project
from schema.types.resume import ResumeRequest
from schema.types.variable import Variable

if TYPE_CHECKING:
    from schema.types.event import Event


@strawberry.type(description="One entry of a build's append-only state history.")
class StateEntry:
    id: strawberry.ID
    state_code: int
    status: StateStatus
    message: str | None
    metadata: JSON
    error_message: str | None = strawberry.field(description="Set on failures.")
    error_code: str | None
    retryable: bool | None
    created_at: datetime

    @classmethod
    def from_model(cls, m: models.BuildState) -> StateEntry:
        return cls(
            id=strawberry.ID(str(m.id)), state_code=m.state_code, status=StateStatus(m.status),
            message=m.message, metadata=m.metadata or {}, error_message=m.error_message,
            error_code=m.error_code, retryable=m.retryable, created_at=m.created_at,
        )


@strawberry.type(description="One run of a project's build, moving through numbered states.")
class Build:
    id: strawberry.ID
    project_id: strawberry.Private[str]
    build_number: int = strawberry.field(description="The CI's number for the build.")
    platform: str | None
    os_version: str | None
    image_type: str | None
    status: BuildStatus
    current_state: int = strawberry.field(description="Code of the latest transition.")
    last_successful_state: int | None = strawberry.field(
        description="Highest code with a completed entry."
    )
    failed_state: int | None = strawberry.field(
        description="Code of the latest failure since the build was last reopened."
    )
    metadata: JSON
    resume_count: int
    version: int
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, m: models.Build) -> Build:
        return cls(
            id=strawberry.ID(str(m.id)), project_id=m.project_id, build_number=m.build_number,
            platform=m.platform, os_version=m.os_version, image_type=m.image_type,
            status=BuildStatus(m.status), current_state=m.current_state,
            last_successful_state=m.last_successful_state, failed_state=m.failed_state,
            metadata=m.metadata or {}, resume_count=m.resume_count, version=m.version,
            started_at=m.started_at, finished_at=m.finished_at,
            created_at=m.created_at, updated_at=m.updated_at,
        )

    @property
    def build_uuid(self) -> uuid.UUID:
        return uuid.UUID(str(self.id))

    @strawberry.field
    async def project(self, info: Info) -> Project:
        row = await info.context.loaders.project.load(self.project_id)
        assert row is not None, "builds.project_id is a foreign key"
        return Project.from_model(row)

    @strawberry.field(description="Live artifacts, ordered by state code; every filter is optional.")
    async def artifacts(
        self,
        info: Info,
        state_code: int | None = None,
        artifact_type: str | None = None,
        is_resumable: bool | None = None,
        is_final: bool | None = None,
    ) -> list[Artifact]:
        wanted = ArtifactFilter(
            state_code=state_code, artifact_type=artifact_type,
            is_resumable=is_resumable, is_final=is_final,
        )
        rows = await info.context.loaders.artifacts.load(self.build_uuid)
        return [Artifact.from_model(a) for a in rows if wanted.matches(a)]

    @strawberry.field(
        description='Variables by key. Sensitive values read "******" unless an admin passes '
        "reveal: true (that read is audited)."
    )
    async def variables(self, info: Info, reveal: bool = False) -> list[Variable]:
        if reveal:
            views = await variable_service.list_variables(
                actor=info.context.principal, build_id=str(self.id), reveal=True
            )
        else:
            rows = await info.context.loaders.variables.load(self.build_uuid)
            views = [variable_service.view(r) for r in rows]
        return [Variable.from_view(v) for v in views]

    @strawberry.field(description="CI/CD jobs linked to the build, oldest first.")
    async def jobs(self, info: Info) -> list[Job]:
        return [Job.from_model(j) for j in await info.context.loaders.jobs.load(self.build_uuid)]

    @strawberry.field(description="The append-only state history, oldest first.")
    async def state_history(self, info: Info) -> list[StateEntry]:
        return [StateEntry.from_model(s) for s in await info.context.loaders.states.load(self.build_uuid)]

    @strawberry.field(description="Resume requests filed for the build, oldest first.")
    async def resume_requests(self, info: Info) -> list[ResumeRequest]:
        rows = await info.context.loaders.resume_requests.load(self.build_uuid)
        return [ResumeRequest.from_model(r) for r in rows]

    @strawberry.field(
        description="The build's audit trail, oldest first: who changed what, when and why. "
        "`last` most recent events (at most 200); `action` may name a family (`resume.*`)."
    )
    async def events(
        self, info: Info, action: str | None = None, last: int = 100
    ) -> list[Annotated[Event, strawberry.lazy("schema.types.event")]]:
        from schema.types.event import events_of_build

        return await events_of_build(info, self.build_uuid, action, last)

    @strawberry.field(
        description="Everything needed to continue the build. Sensitive variables are masked "
        "unless an admin passes reveal: true (audited)."
    )
    async def resume_context(self, info: Info, reveal: bool = False) -> ResumeContext | None:
        if reveal:
            data = await context_service.get_resume_context(
                actor=info.context.principal, build_id=str(self.id), reveal=True
            )
        else:
            data = await info.context.loaders.resume_context.load(self.build_uuid)
        return ResumeContext.from_data(data) if data else None
