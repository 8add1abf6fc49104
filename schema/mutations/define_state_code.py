"""defineStateCode"""

from __future__ import annotations

import strawberry

from app.services import projects
from app.services.commands import DefineStateCode
from schema.context import Info
from schema.mutations.base import attempt, command, given, result_union
from schema.permissions import CanWrite
from schema.types.errors import ConflictError, NotFoundError, ValidationError
from schema.types.project import StateCode


@strawberry.input(description="A numbered state of a project (unique code in the project).")
class DefineStateCodeInput:
    code: int
    name: str
    description: str | None = strawberry.UNSET
    is_initial: bool | None = strawberry.UNSET
    is_final: bool | None = strawberry.UNSET
    is_error: bool | None = strawberry.UNSET


DefineStateCodeResult = result_union(
    "DefineStateCodeResult", StateCode, NotFoundError, ConflictError, ValidationError
)


async def define_state_code(
    info: Info, project_id: strawberry.ID, input: DefineStateCodeInput
) -> DefineStateCodeResult:
    async def run() -> StateCode:
        row = await projects.define_state_code(
            actor=info.context.principal, project_id=str(project_id),
            command=command(DefineStateCode, given(input)),
        )
        info.context.loaders.forget_project(str(project_id))
        return StateCode.from_model(row)

    return await attempt(DefineStateCodeResult, run)


field = strawberry.mutation(
    resolver=define_state_code, permission_classes=[CanWrite],
    description="Add a numbered state to a project's state machine.",
)
