"""Artifacts of a build (seed: /builds/{build_id}/artifacts)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from app.rest.deps import Admin, ExpectedVersion, Reader, Writer
from app.rest.schemas import ArtifactOut
from app.services import artifacts
from app.services.commands import RegisterArtifact, UpdateArtifact
from db.models import Artifact

router = APIRouter(tags=["Artifacts"])


@router.post("/builds/{build_id}/artifacts", status_code=201, response_model=ArtifactOut)
async def register_artifact(build_id: str, body: RegisterArtifact, actor: Writer):
    """Register a new artifact."""
    row = await artifacts.register_artifact(actor=actor, build_id=build_id, command=body)
    return register_artifact_response(row)


def register_artifact_response(row: Artifact) -> Response:
    """The answer of this route (app/rest/fast.py serves it too, without FastAPI)."""
    return Response(artifact_json(row), status_code=201, media_type="application/json")


# The hottest write answers without a second pass through pydantic (as the resume context
# does): the model's values already have the declared types, and
# tests/rest/test_perf_write_artifact.py pins that these bytes equal what `ArtifactOut` writes
# (field names and order from the model; orjson's OPT_UTC_Z writes datetimes as pydantic does).
_FIELDS = tuple(ArtifactOut.model_fields)


def artifact_json(row: Artifact) -> bytes:
    try:
        return orjson.dumps({f: getattr(row, f) for f in _FIELDS}, option=orjson.OPT_UTC_Z)
    except TypeError:  # what orjson refuses (an integer beyond 64 bits in metadata): pydantic
        return ArtifactOut.model_validate(row).model_dump_json().encode()


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
