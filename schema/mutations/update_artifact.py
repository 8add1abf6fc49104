"""updateArtifact"""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.services import artifacts
from app.services.commands import UpdateArtifact
from schema.context import Info
from schema.mutations.base import attempt, built_directly, command, given, result_union
from schema.permissions import CanWrite
from schema.scalars import JSON, BigInt
from schema.types.artifact import Artifact
from schema.types.errors import (
    ConflictError,
    NotFoundError,
    PreconditionFailedError,
    ValidationError,
)

# Columns that may be set back to null; elsewhere null is refused (omit a field to keep it).
CLEARABLE = frozenset({
    "storage_backend", "storage_region", "storage_bucket", "storage_key", "size_bytes",
    "checksum", "expires_at",
})


@built_directly
@strawberry.input(description="Fields to change; omitted ones keep their value.")
class UpdateArtifactInput:
    state_code: int | None = strawberry.UNSET
    artifact_name: str | None = strawberry.UNSET
    artifact_type: str | None = strawberry.UNSET
    artifact_path: str | None = strawberry.UNSET
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
    metadata: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the stored object as a whole."
    )


UpdateArtifactResult = result_union(
    "UpdateArtifactResult", Artifact, NotFoundError, ConflictError, ValidationError,
    PreconditionFailedError,
)


async def update_artifact(
    info: Info,
    build_id: strawberry.ID,
    artifact_id: strawberry.ID,
    input: UpdateArtifactInput,
    expected_version: int | None = None,
) -> UpdateArtifactResult:
    async def run() -> Artifact:
        row = await artifacts.update_artifact(
            actor=info.context.principal, build_id=str(build_id), artifact_id=str(artifact_id),
            command=command(UpdateArtifact, given(input, clearable=CLEARABLE)),
            expected_version=expected_version,
        )
        if (loaders := info.context.loaders_made()) is not None:
            loaders.forget_artifacts(row.build_id)
        return Artifact.from_model(row)

    return await attempt(UpdateArtifactResult, run)


field = strawberry.mutation(
    resolver=update_artifact, permission_classes=[CanWrite],
    description="Change an artifact; with expectedVersion, only if nobody changed it since.",
)
