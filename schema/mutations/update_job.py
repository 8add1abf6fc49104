"""updateJob"""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.services import jobs
from app.services.commands import UpdateJob
from schema.context import Info
from schema.enums import JobStatus
from schema.mutations.base import attempt, built_directly, command, given, result_union
from schema.permissions import CanWrite
from schema.types.errors import (
    InvalidTransitionError,
    NotFoundError,
    PreconditionFailedError,
    ValidationError,
)
from schema.types.job import Job

CLEARABLE = frozenset({"job_url", "job_id", "build_number", "started_at", "completed_at"})


@built_directly
@strawberry.input(description="A job's progress; omitted fields are kept.")
class UpdateJobInput:
    status: JobStatus | None = strawberry.UNSET
    job_url: str | None = strawberry.UNSET
    job_id: str | None = strawberry.UNSET
    build_number: str | None = strawberry.UNSET
    started_at: datetime | None = strawberry.UNSET
    completed_at: datetime | None = strawberry.UNSET


UpdateJobResult = result_union(
    "UpdateJobResult", Job, NotFoundError, InvalidTransitionError, ValidationError,
    PreconditionFailedError,
)


async def update_job(
    info: Info,
    build_id: strawberry.ID,
    job_id: strawberry.ID,
    input: UpdateJobInput,
    expected_version: int | None = None,
) -> UpdateJobResult:
    async def run() -> Job:
        row = await jobs.update_job(
            actor=info.context.principal, build_id=str(build_id), job_id=str(job_id),
            command=command(UpdateJob, given(input, clearable=CLEARABLE)),
            expected_version=expected_version,
        )
        if (loaders := info.context.loaders_made()) is not None:
            loaders.forget_jobs(row.build_id)
        return Job.from_model(row)

    return await attempt(UpdateJobResult, run)


field = strawberry.mutation(
    resolver=update_job, permission_classes=[CanWrite],
    description="Record a job's progress; a finished job stays finished.",
)
