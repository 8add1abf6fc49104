"""updateResumeRequest"""

from __future__ import annotations

import strawberry

from app.services import resume
from app.services.commands import UpdateResumeRequest
from schema.context import Info
from schema.enums import ResumeStatus
from schema.mutations.base import attempt, built_directly, command, given, result_union
from schema.permissions import CanWrite
from schema.scalars import JSON
from schema.types.errors import (
    InvalidTransitionError,
    NotFoundError,
    PreconditionFailedError,
    ValidationError,
)
from schema.types.resume import ResumeRequest

CLEARABLE = frozenset({
    "orchestration_job_id", "orchestration_job_url", "orchestration_status", "error_message",
})


@built_directly
@strawberry.input(description="A status move and/or what the CI said; omitted fields are kept.")
class UpdateResumeRequestInput:
    status: ResumeStatus | None = strawberry.UNSET
    orchestration_job_id: str | None = strawberry.UNSET
    orchestration_job_url: str | None = strawberry.UNSET
    orchestration_status: str | None = strawberry.UNSET
    error_message: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


UpdateResumeRequestResult = result_union(
    "UpdateResumeRequestResult", ResumeRequest, NotFoundError, InvalidTransitionError,
    ValidationError, PreconditionFailedError,
)


async def update_resume_request(
    info: Info,
    id: strawberry.ID,
    input: UpdateResumeRequestInput,
    expected_version: int | None = None,
) -> UpdateResumeRequestResult:
    async def run() -> ResumeRequest:
        row = await resume.update_resume_request(
            actor=info.context.principal, request_id=str(id),
            command=command(UpdateResumeRequest, given(input, clearable=CLEARABLE)),
            expected_version=expected_version,
        )
        if (loaders := info.context.loaders_made()) is not None:
            loaders.forget_build(row.build_id)
        return ResumeRequest.from_model(row)

    return await attempt(UpdateResumeRequestResult, run)


field = strawberry.mutation(
    resolver=update_resume_request, permission_classes=[CanWrite],
    description="Move a resume request along its status machine (other moves are "
    "InvalidTransitionError) and record the CI job.",
)
