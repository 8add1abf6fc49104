"""createBuild"""

from __future__ import annotations

import strawberry

from app.services import builds
from app.services.commands import CreateBuild
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
from schema.scalars import JSON
from schema.types.build import Build
from schema.types.errors import ConflictError, NotFoundError, ValidationError


@built_directly
@strawberry.input(description="A new build of a project; (project, buildNumber) is unique.")
class CreateBuildInput:
    project_id: strawberry.ID
    build_number: int
    platform: str | None = strawberry.UNSET
    os_version: str | None = strawberry.UNSET
    image_type: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


CreateBuildResult = result_union(
    "CreateBuildResult", Build, NotFoundError, ConflictError, ValidationError
)


async def create_build(
    info: Info, input: CreateBuildInput, idempotency_key: IdempotencyKey = None
) -> CreateBuildResult:
    async def run() -> Build:
        row = await builds.create_build(
            actor=info.context.principal, command=command(CreateBuild, given(input))
        )
        info.context.loaders.forget_build(row.id, row=row)
        return Build.from_model(row)

    async def reload(ref: dict) -> Build:
        return Build.from_model(
            await builds.get_build(actor=info.context.principal, build_id=ref["id"])
        )

    return await attempt_once(
        info, CreateBuildResult, run, key=idempotency_key, operation="createBuild",
        arguments={"input": strawberry.asdict(input)}, ref=lambda b: {"id": str(b.id)},
        reload=reload,
    )


field = strawberry.mutation(
    resolver=create_build, permission_classes=[CanWrite],
    description="Register a build; it starts pending at state 0.",
)
