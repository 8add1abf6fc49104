"""defineResumableState"""

from __future__ import annotations

import strawberry

from app.services import resumable
from app.services.commands import DefineResumableState
from schema.context import Info
from schema.enums import ResumeStrategy
from schema.mutations.base import (
    IdempotencyKey,
    attempt_once,
    built_directly,
    command,
    given,
    result_union,
)
from schema.permissions import CanWrite
from schema.types.errors import ConflictError, NotFoundError, ValidationError
from schema.types.resumable import ResumableState


@built_directly
@strawberry.input(description="How a state of the project is resumed (one config per state).")
class DefineResumableStateInput:
    state_code: int
    is_resumable: bool | None = strawberry.UNSET
    resume_strategy: ResumeStrategy | None = strawberry.UNSET
    required_artifacts: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Artifact names or types."
    )
    required_variables: list[str] | None = strawberry.UNSET
    resume_command: str | None = strawberry.UNSET
    resume_timeout_seconds: int | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET


DefineResumableStateResult = result_union(
    "DefineResumableStateResult", ResumableState, NotFoundError, ConflictError, ValidationError
)


async def define_resumable_state(
    info: Info, project_id: strawberry.ID, input: DefineResumableStateInput,
    idempotency_key: IdempotencyKey = None,
) -> DefineResumableStateResult:
    async def run() -> ResumableState:
        row = await resumable.define_resumable_state(
            actor=info.context.principal, project_id=str(project_id),
            command=command(DefineResumableState, given(input)),
        )
        if (loaders := info.context.loaders_made()) is not None:
            loaders.forget_project(str(project_id))
        return ResumableState.from_model(row)

    async def reload(ref: dict) -> ResumableState:
        return ResumableState.from_model(await resumable.get_resumable_state(
            actor=info.context.principal, project_id=ref["project_id"],
            state_code=ref["state_code"],
        ))

    return await attempt_once(
        info, DefineResumableStateResult, run, key=idempotency_key,
        operation="defineResumableState",
        arguments={"projectId": str(project_id), "input": strawberry.asdict(input)},
        ref=lambda r: {"project_id": r.project_id, "state_code": r.state_code}, reload=reload,
    )


field = strawberry.mutation(
    resolver=define_resumable_state, permission_classes=[CanWrite],
    description="Declare how a state of a project is resumed.",
)
