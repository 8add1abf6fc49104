"""registerArtifact"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pydantic
import strawberry

from app.services import artifacts
from app.services.commands import RegisterArtifact
from app.services.errors import DomainError
from schema.context import Info
from schema.mutations.base import (
    IdempotencyKey,
    attempt_once,
    built_directly,
    command,
    expected_error,
    result_union,
)
from schema.permissions import CanWrite
from schema.scalars import JSON, BigInt
from schema.types.artifact import Artifact
from schema.types.errors import ConflictError, NotFoundError, ValidationError


@built_directly
@strawberry.input(description="An artifact; its name is unique among the build's live artifacts.")
class RegisterArtifactInput:
    state_code: int
    artifact_name: str
    artifact_type: str
    artifact_path: str
    storage_backend: str | None = strawberry.UNSET
    storage_region: str | None = strawberry.UNSET
    storage_bucket: str | None = strawberry.UNSET
    storage_key: str | None = strawberry.UNSET
    size_bytes: BigInt | None = strawberry.UNSET
    checksum: str | None = strawberry.UNSET
    checksum_algorithm: str | None = strawberry.UNSET
    is_resumable: bool | None = strawberry.UNSET
    is_final: bool | None = strawberry.UNSET
    expires_at: datetime | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


RegisterArtifactResult = result_union(
    "RegisterArtifactResult", Artifact, NotFoundError, ConflictError, ValidationError
)


async def register_artifact(
    info: Info, build_id: strawberry.ID, input: RegisterArtifactInput,
    idempotency_key: IdempotencyKey = None,
) -> RegisterArtifactResult:
    if idempotency_key is not None:
        return await _register_once(info, build_id, input, idempotency_key)
    # `attempt_once` without a key is `attempt(union, run)`: inlined here (the benchmark's
    # mutation), without the per-call closure and the two coroutines around it; the failures
    # are mapped by the same `expected_error`, the others re-raised as they were.
    # tests/graphql/test_h8_register_inline.py compares it with `attempt`.
    try:
        context = info.context
        row = await artifacts.register_artifact(
            actor=context.principal, build_id=str(build_id),
            command=command(RegisterArtifact, _given(input)),
        )
        if (loaders := context.loaders_made()) is not None:
            loaders.forget_artifacts(row.build_id)
        return Artifact.from_model(row)
    except (pydantic.ValidationError, DomainError) as exc:
        error = expected_error(RegisterArtifactResult, exc)
        if error is None:
            raise
        return error


async def _register_once(info: Info, build_id: strawberry.ID, input: RegisterArtifactInput,
                         idempotency_key: str) -> RegisterArtifactResult:
    async def run() -> Artifact:
        row = await artifacts.register_artifact(
            actor=info.context.principal, build_id=str(build_id),
            command=command(RegisterArtifact, _given(input)),
        )
        if (loaders := info.context.loaders_made()) is not None:
            loaders.forget_artifacts(row.build_id)
        return Artifact.from_model(row)

    async def reload(ref: dict) -> Artifact:
        return Artifact.from_model(await artifacts.get_artifact(
            actor=info.context.principal, build_id=ref["build_id"], artifact_id=ref["id"]
        ))

    return await attempt_once(
        info, RegisterArtifactResult, run, key=idempotency_key, operation="registerArtifact",
        arguments={"buildId": str(build_id), "input": strawberry.asdict(input)},
        ref=lambda a: {"build_id": str(a.build_id), "id": str(a.id)}, reload=reload,
    )


_INPUT_FIELDS = tuple(f.name for f in dataclasses.fields(RegisterArtifactInput))


def _given(input: RegisterArtifactInput) -> dict:
    """`given(input)` without strawberry.asdict's deep copy: the fields are scalars and the
    metadata object, which the command's validation copies anyway."""
    return {name: value for name in _INPUT_FIELDS
            if (value := getattr(input, name)) is not strawberry.UNSET}


field = strawberry.mutation(
    resolver=register_artifact, permission_classes=[CanWrite],
    description="Record an artifact a build produced.",
)
