"""cancelBuild"""

from __future__ import annotations

import strawberry

from app.services import builds
from schema.context import Info
from schema.mutations.base import attempt, result_union
from schema.permissions import CanWrite
from schema.types.build import Build
from schema.types.errors import InvalidTransitionError, NotFoundError

CancelBuildResult = result_union(
    "CancelBuildResult", Build, NotFoundError, InvalidTransitionError
)


async def cancel_build(
    info: Info, build_id: strawberry.ID, reason: str | None = None
) -> CancelBuildResult:
    async def run() -> Build:
        row = await builds.cancel_build(
            actor=info.context.principal, build_id=str(build_id), reason=reason
        )
        info.context.loaders.forget_build(row.id, row=row)
        return Build.from_model(row)

    return await attempt(CancelBuildResult, run)


field = strawberry.mutation(
    resolver=cancel_build, permission_classes=[CanWrite],
    description="Cancel a build that has not finished; its open resume request is cancelled too.",
)
