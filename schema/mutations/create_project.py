"""createProject"""

from __future__ import annotations

import strawberry

from app.services import projects
from app.services.commands import CreateProject
from schema.context import Info
from schema.mutations.base import attempt, command, given, result_union
from schema.permissions import CanWrite
from schema.types.errors import ConflictError, ValidationError
from schema.types.project import Project


@strawberry.input(description="A new project; its id is a slug chosen by the caller.")
class CreateProjectInput:
    id: strawberry.ID = strawberry.field(description="Lower-case letters, digits, . _ -")
    name: str
    description: str | None = strawberry.UNSET
    auto_resume: bool | None = strawberry.UNSET
    max_auto_resumes: int | None = strawberry.UNSET
    default_platform: str | None = strawberry.UNSET


CreateProjectResult = result_union("CreateProjectResult", Project, ConflictError, ValidationError)


async def create_project(info: Info, input: CreateProjectInput) -> CreateProjectResult:
    async def run() -> Project:
        row = await projects.create_project(
            actor=info.context.principal, command=command(CreateProject, given(input))
        )
        info.context.loaders.forget_project(row.id, row=row)
        return Project.from_model(row)

    return await attempt(CreateProjectResult, run)


field = strawberry.mutation(
    resolver=create_project, permission_classes=[CanWrite], description="Create a project."
)
