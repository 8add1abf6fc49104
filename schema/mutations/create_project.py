"""createProject"""

from __future__ import annotations

import strawberry

from app.services import projects
from app.services.commands import CreateProject
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
from schema.types.errors import ConflictError, ValidationError
from schema.types.project import Project


@built_directly
@strawberry.input(description="A new project; its id is a slug chosen by the caller.")
class CreateProjectInput:
    id: strawberry.ID = strawberry.field(description="Lower-case letters, digits, . _ -")
    name: str
    description: str | None = strawberry.UNSET
    auto_resume: bool | None = strawberry.UNSET
    max_auto_resumes: int | None = strawberry.UNSET
    default_platform: str | None = strawberry.UNSET


CreateProjectResult = result_union("CreateProjectResult", Project, ConflictError, ValidationError)


async def create_project(
    info: Info, input: CreateProjectInput, idempotency_key: IdempotencyKey = None
) -> CreateProjectResult:
    async def run() -> Project:
        row = await projects.create_project(
            actor=info.context.principal, command=command(CreateProject, given(input))
        )
        info.context.loaders.forget_project(row.id, row=row)
        return Project.from_model(row)

    async def reload(ref: dict) -> Project:
        return Project.from_model(
            await projects.get_project(actor=info.context.principal, project_id=ref["id"])
        )

    return await attempt_once(
        info, CreateProjectResult, run, key=idempotency_key, operation="createProject",
        arguments={"input": strawberry.asdict(input)}, ref=lambda p: {"id": str(p.id)},
        reload=reload,
    )


field = strawberry.mutation(
    resolver=create_project, permission_classes=[CanWrite], description="Create a project."
)
