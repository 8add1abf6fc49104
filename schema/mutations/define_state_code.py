"""defineStateCode"""

from __future__ import annotations

import strawberry

from app.services import projects
from app.services.commands import DefineStateCode
from app.services.errors import NotFound
from schema.context import Info
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
from schema.types.project import StateCode


@built_directly
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
    info: Info, project_id: strawberry.ID, input: DefineStateCodeInput,
    idempotency_key: IdempotencyKey = None,
) -> DefineStateCodeResult:
    async def run() -> StateCode:
        row = await projects.define_state_code(
            actor=info.context.principal, project_id=str(project_id),
            command=command(DefineStateCode, given(input)),
        )
        if (loaders := info.context.loaders_made()) is not None:
            loaders.forget_project(str(project_id))
        return StateCode.from_model(row)

    async def reload(ref: dict) -> StateCode:
        codes = await projects.list_state_codes(
            actor=info.context.principal, project_id=ref["project_id"]
        )
        row = next((c for c in codes if str(c.id) == ref["id"]), None)
        if row is None:
            raise NotFound(f"state code '{ref['id']}' not found")
        return StateCode.from_model(row)

    return await attempt_once(
        info, DefineStateCodeResult, run, key=idempotency_key, operation="defineStateCode",
        arguments={"projectId": str(project_id), "input": strawberry.asdict(input)},
        ref=lambda c: {"project_id": str(project_id), "id": str(c.id)}, reload=reload,
    )


field = strawberry.mutation(
    resolver=define_state_code, permission_classes=[CanWrite],
    description="Add a numbered state to a project's state machine.",
)
