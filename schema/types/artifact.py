"""Artifacts: what a build produced at a state (snapshots, images, files)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from db import models
from schema.context import Info
from schema.scalars import JSON, BigInt

if TYPE_CHECKING:
    from schema.types.build import Build


@strawberry.type(description="Something a build produced, and where it is stored.")
class Artifact:
    id: strawberry.ID
    build_id: strawberry.Private[uuid.UUID]
    state_code: int = strawberry.field(description="The state that produced it.")
    artifact_name: str = strawberry.field(description="Unique among the build's live artifacts.")
    artifact_type: str = strawberry.field(description="vm_snapshot, ami, ebs_snapshot, disk_image…")
    artifact_path: str
    storage_backend: str | None
    storage_region: str | None
    storage_bucket: str | None
    storage_key: str | None
    size_bytes: BigInt | None
    checksum: str | None
    checksum_algorithm: str
    is_resumable: bool
    is_final: bool
    expires_at: datetime | None
    metadata: JSON = strawberry.field(description="A JSON object.")
    version: int = strawberry.field(description="Increases with every change.")
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = strawberry.field(description="Set when soft-deleted.")

    @classmethod
    def from_model(cls, m: models.Artifact) -> Artifact:
        return cls(
            id=strawberry.ID(str(m.id)), build_id=m.build_id, state_code=m.state_code,
            artifact_name=m.artifact_name, artifact_type=m.artifact_type,
            artifact_path=m.artifact_path, storage_backend=m.storage_backend,
            storage_region=m.storage_region, storage_bucket=m.storage_bucket,
            storage_key=m.storage_key, size_bytes=m.size_bytes, checksum=m.checksum,
            checksum_algorithm=m.checksum_algorithm, is_resumable=m.is_resumable,
            is_final=m.is_final, expires_at=m.expires_at, metadata=m.metadata or {},
            version=m.version, created_at=m.created_at, updated_at=m.updated_at,
            deleted_at=m.deleted_at,
        )

    @strawberry.field(description="The build that produced it.")
    async def build(
        self, info: Info
    ) -> Annotated["Build", strawberry.lazy("schema.types.build")] | None:
        from schema.types.build import Build

        row = await info.context.loaders.build.load(self.build_id)
        return Build.from_model(row) if row else None
