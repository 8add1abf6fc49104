"""updateResumableState"""

from __future__ import annotations

import strawberry

from app.services import resumable
from app.services.commands import UpdateResumableState
from schema.context import Info
from schema.enums import ResumeStrategy
from schema.mutations.base import attempt, built_directly, command, given, result_union
from schema.permissions import CanWrite
from schema.types.errors import NotFoundError, ValidationError
from schema.types.resumable import ResumableState

CLEARABLE = frozenset({"resume_command", "description", "notes"})


@built_directly
@strawberry.input(description="Fields to replace; omitted ones keep their value.")
class UpdateResumableStateInput:
    is_resumable: bool | None = strawberry.UNSET
    resume_strategy: ResumeStrategy | None = strawberry.UNSET
    required_artifacts: list[str] | None = strawberry.UNSET
    required_variables: list[str] | None = strawberry.UNSET
    resume_command: str | None = strawberry.UNSET
    resume_timeout_seconds: int | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET


UpdateResumableStateResult = result_union(
    "UpdateResumableStateResult", ResumableState, NotFoundError, ValidationError
)


async def update_resumable_state(
    info: Info, project_id: strawberry.ID, state_code: int, input: UpdateResumableStateInput
) -> UpdateResumableStateResult:
    async def run() -> ResumableState:
        row = await resumable.update_resumable_state(
            actor=info.context.principal, project_id=str(project_id), state_code=state_code,
            command=command(UpdateResumableState, given(input, clearable=CLEARABLE)),
        )
        if (loaders := info.context.loaders_made()) is not None:
            loaders.forget_project(str(project_id))
        return ResumableState.from_model(row)

    return await attempt(UpdateResumableStateResult, run)


field = strawberry.mutation(
    resolver=update_resumable_state, permission_classes=[CanWrite],
    description="Change how a configured state is resumed.",
)
