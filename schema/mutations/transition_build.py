"""transitionBuild"""

from __future__ import annotations

import strawberry

from app.services import builds
from app.services.commands import TransitionBuild
from schema.context import Info
from schema.enums import StateStatus
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
from schema.types.errors import InvalidTransitionError, NotFoundError, ValidationError


@built_directly
@strawberry.input(description="Move a build to a state.")
class TransitionBuildInput:
    state_code: int
    status: StateStatus
    message: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


TransitionBuildResult = result_union(
    "TransitionBuildResult", Build, NotFoundError, InvalidTransitionError, ValidationError
)


async def transition_build(
    info: Info, build_id: strawberry.ID, input: TransitionBuildInput,
    idempotency_key: IdempotencyKey = None,
) -> TransitionBuildResult:
    async def run() -> Build:
        row = await builds.transition_build(
            actor=info.context.principal, build_id=str(build_id),
            command=command(TransitionBuild, given(input)),
        )
        info.context.loaders.forget_build(row.id, row=row)
        return Build.from_model(row)

    async def reload(ref: dict) -> Build:
        return Build.from_model(
            await builds.get_build(actor=info.context.principal, build_id=ref["id"])
        )

    return await attempt_once(
        info, TransitionBuildResult, run, key=idempotency_key, operation="transitionBuild",
        arguments={"buildId": str(build_id), "input": strawberry.asdict(input)},
        ref=lambda b: {"id": str(b.id)}, reload=reload,
    )


field = strawberry.mutation(
    resolver=transition_build, permission_classes=[CanWrite],
    description="Move a build to a state. A failed build moves again only after a resume "
    "request (which it then reopens); completed and cancelled builds never move.",
)
