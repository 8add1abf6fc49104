"""deleteArtifact"""

from __future__ import annotations

import strawberry

from app.services import artifacts
from schema.context import Info
from schema.mutations.base import attempt, result_union
from schema.permissions import IsAdmin
from schema.types.artifact import Artifact
from schema.types.errors import NotFoundError

DeleteArtifactResult = result_union("DeleteArtifactResult", Artifact, NotFoundError)


async def delete_artifact(
    info: Info, build_id: strawberry.ID, artifact_id: strawberry.ID
) -> DeleteArtifactResult:
    async def run() -> Artifact:
        row = await artifacts.delete_artifact(
            actor=info.context.principal, build_id=str(build_id), artifact_id=str(artifact_id)
        )
        if (loaders := info.context.loaders_made()) is not None:
            loaders.forget_artifacts(row.build_id)
        return Artifact.from_model(row)

    return await attempt(DeleteArtifactResult, run)


field = strawberry.mutation(
    resolver=delete_artifact, permission_classes=[IsAdmin],
    description="Soft-delete an artifact (admin): it stays for the audit trail and no longer "
    "counts anywhere.",
)
