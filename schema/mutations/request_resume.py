"""requestResume"""

from __future__ import annotations

import strawberry

from app.services import resume
from app.services.commands import RequestResume
from schema.context import Info
from schema.enums import RequestSource
from schema.mutations.base import (
    IdempotencyKey,
    attempt_once,
    built_directly,
    command,
    given,
    result_union,
)
from schema.permissions import CanWrite
from schema.scalars import JSON
from schema.types.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    NotResumableError,
    ValidationError,
)
from schema.types.resume import ResumeRequest


@built_directly
@strawberry.input(description="A variable value to apply when the request is accepted.")
class VariableOverrideInput:
    key: str
    value: str


@built_directly
@strawberry.input(description="Continue a failed or cancelled build from a state.")
class RequestResumeInput:
    resume_reason: str = strawberry.field(description="Why: the audit trail keeps it.")
    resume_from_state: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Any state up to the failed one; default: the build's resumeFromState.",
    )
    resume_to_state: int | None = strawberry.UNSET
    requested_by: str | None = strawberry.field(
        default=strawberry.UNSET, description="Default: the caller's key name."
    )
    request_source: RequestSource | None = strawberry.UNSET
    orchestration_config: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="platform, pipeline, job, trigger url…"
    )
    variable_overrides: list[VariableOverrideInput] | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


RequestResumeResult = result_union(
    "RequestResumeResult", ResumeRequest, NotFoundError, ConflictError, ValidationError,
    NotResumableError, InvalidTransitionError,
)


async def request_resume(
    info: Info, build_id: strawberry.ID, input: RequestResumeInput,
    idempotency_key: IdempotencyKey = None,
) -> RequestResumeResult:
    async def run() -> ResumeRequest:
        data = given(input)
        if data.get("variable_overrides") is not None:
            # A list in GraphQL (maps have no type), a key → value object in the domain.
            data["variable_overrides"] = {o["key"]: o["value"] for o in data["variable_overrides"]}
        row = await resume.request_resume(
            actor=info.context.principal, build_id=str(build_id),
            command=command(RequestResume, data),
        )
        if (loaders := info.context.loaders_made()) is not None:
            loaders.forget_build(row.build_id)
            loaders.forget_variables(row.build_id)
        return ResumeRequest.from_model(row)

    async def reload(ref: dict) -> ResumeRequest:
        return ResumeRequest.from_model(
            await resume.get_resume_request(actor=info.context.principal, request_id=ref["id"])
        )

    return await attempt_once(
        info, RequestResumeResult, run, key=idempotency_key, operation="requestResume",
        arguments={"buildId": str(build_id), "input": strawberry.asdict(input)},
        ref=lambda r: {"id": str(r.id)}, reload=reload,
    )


field = strawberry.mutation(
    resolver=request_resume, permission_classes=[CanWrite],
    description="File a resume request after checking that the chosen state can be resumed "
    "(NotResumableError lists what is missing).",
)
