"""Artifacts of a build (seed: /builds/{build_id}/artifacts)."""

from __future__ import annotations

from fastapi import APIRouter

from app.rest.deps import Admin, ExpectedVersion, Reader, Writer
from app.rest.schemas import ArtifactOut
from app.services import artifacts
from app.services.commands import RegisterArtifact, UpdateArtifact

router = APIRouter(tags=["Artifacts"])


@router.post("/builds/{build_id}/artifacts", status_code=201, response_model=ArtifactOut)
async def register_artifact(build_id: str, body: RegisterArtifact, actor: Writer):
    """Register a new artifact."""
    return await artifacts.register_artifact(actor=actor, build_id=build_id, command=body)


@router.get("/builds/{build_id}/artifacts", response_model=list[ArtifactOut])
async def list_artifacts(
    build_id: str,
    actor: Reader,
    state_code: int | None = None,
    artifact_type: str | None = None,
    is_resumable: bool | None = None,
    is_final: bool | None = None,
):
    """List the build's live artifacts (with filters)."""
    flt = artifacts.ArtifactFilter(
        state_code=state_code, artifact_type=artifact_type, is_resumable=is_resumable,
        is_final=is_final,
    )
    return await artifacts.list_artifacts(actor=actor, build_id=build_id, filter=flt)


@router.get("/builds/{build_id}/artifacts/{artifact_id}", response_model=ArtifactOut)
async def get_artifact(build_id: str, artifact_id: str, actor: Reader):
    """Get one artifact."""
    return await artifacts.get_artifact(actor=actor, build_id=build_id, artifact_id=artifact_id)


@router.patch("/builds/{build_id}/artifacts/{artifact_id}", response_model=ArtifactOut)
async def update_artifact(
    build_id: str, artifact_id: str, body: UpdateArtifact, actor: Writer, version: ExpectedVersion
):
    """Update artifact fields or metadata."""
    return await artifacts.update_artifact(
        actor=actor, build_id=build_id, artifact_id=artifact_id, command=body,
        expected_version=version,
    )


@router.delete("/builds/{build_id}/artifacts/{artifact_id}", response_model=ArtifactOut)
async def delete_artifact(build_id: str, artifact_id: str, actor: Admin):
    """Soft delete an artifact (admin)."""
    return await artifacts.delete_artifact(actor=actor, build_id=build_id, artifact_id=artifact_id)
