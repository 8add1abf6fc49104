"""linkJob"""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.services import jobs
from app.services.commands import LinkJob
from app.services.errors import NotFound
from schema.context import Info
from schema.enums import JobStatus, TriggerSource
from schema.mutations.base import (
    IdempotencyKey,
    attempt_once,
    built_directly,
    command,
    given,
    result_union,
)
from schema.permissions import CanWrite
from schema.types.errors import NotFoundError, ValidationError
from schema.types.job import Job


@built_directly
@strawberry.input(description="A CI/CD job that runs (or resumes) the build.")
class LinkJobInput:
    platform: str = strawberry.field(description="concourse, jenkins, gitlab-ci, github-actions…")
    pipeline_name: str | None = strawberry.UNSET
    job_name: str | None = strawberry.UNSET
    job_url: str | None = strawberry.UNSET
    job_id: str | None = strawberry.UNSET
    build_number: str | None = strawberry.UNSET
    triggered_by: str | None = strawberry.UNSET
    trigger_source: TriggerSource | None = strawberry.UNSET
    status: JobStatus | None = strawberry.UNSET
    started_at: datetime | None = strawberry.UNSET
    is_resume_job: bool | None = strawberry.UNSET
    resumed_from_state: int | None = strawberry.UNSET
    parent_job_id: strawberry.ID | None = strawberry.UNSET
    resume_request_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Makes it a resume job of that request."
    )


LinkJobResult = result_union("LinkJobResult", Job, NotFoundError, ValidationError)


async def link_job(
    info: Info, build_id: strawberry.ID, input: LinkJobInput,
    idempotency_key: IdempotencyKey = None,
) -> LinkJobResult:
    async def run() -> Job:
        row = await jobs.link_job(
            actor=info.context.principal, build_id=str(build_id),
            command=command(LinkJob, given(input)),
        )
        if (loaders := info.context.loaders_made()) is not None:
            loaders.forget_jobs(row.build_id)
        return Job.from_model(row)

    async def reload(ref: dict) -> Job:
        listed = await jobs.list_jobs(actor=info.context.principal, build_id=ref["build_id"])
        row = next((j for j in listed if str(j.id) == ref["id"]), None)
        if row is None:
            raise NotFound(f"job '{ref['id']}' not found")
        return Job.from_model(row)

    return await attempt_once(
        info, LinkJobResult, run, key=idempotency_key, operation="linkJob",
        arguments={"buildId": str(build_id), "input": strawberry.asdict(input)},
        ref=lambda j: {"build_id": str(j.build_id), "id": str(j.id)}, reload=reload,
    )


field = strawberry.mutation(
    resolver=link_job, permission_classes=[CanWrite], description="Link a CI/CD job to a build."
)
