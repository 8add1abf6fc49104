"""recordFailure"""

from __future__ import annotations

import strawberry

from app.services import builds
from app.services.commands import RecordFailure
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
from schema.types.errors import InvalidTransitionError, NotFoundError, ValidationError


@built_directly
@strawberry.input(description="A failure; stateCode defaults to the build's current state.")
class RecordFailureInput:
    error_message: str
    state_code: int | None = strawberry.UNSET
    error_code: str | None = strawberry.UNSET
    retryable: bool | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


RecordFailureResult = result_union(
    "RecordFailureResult", Build, NotFoundError, InvalidTransitionError, ValidationError
)


async def record_failure(
    info: Info, build_id: strawberry.ID, input: RecordFailureInput,
    idempotency_key: IdempotencyKey = None,
) -> RecordFailureResult:
    async def run() -> Build:
        row = await builds.record_failure(
            actor=info.context.principal, build_id=str(build_id),
            command=command(RecordFailure, given(input)),
        )
        info.context.loaders.forget_build(row.id, row=row)
        return Build.from_model(row)

    async def reload(ref: dict) -> Build:
        return Build.from_model(
            await builds.get_build(actor=info.context.principal, build_id=ref["id"])
        )

    return await attempt_once(
        info, RecordFailureResult, run, key=idempotency_key, operation="recordFailure",
        arguments={"buildId": str(build_id), "input": strawberry.asdict(input)},
        ref=lambda b: {"id": str(b.id)}, reload=reload,
    )


field = strawberry.mutation(
    resolver=record_failure, permission_classes=[CanWrite],
    description="Record a failure: the build becomes failed at the state (its current state "
    "does not move).",
)
