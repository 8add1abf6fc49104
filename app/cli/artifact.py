"""`bldst artifact`: what a build produced (snapshots, images, files) and where it is stored."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Optional

import typer

from app.cli.common import command, drop_none, q, session
from app.cli.errors import ServiceError, UsageError
from app.cli.params import parse_json_object, parse_timestamp

app = typer.Typer(help="Register and find what a build produced.\n\nArtifacts: snapshots, images and files a build produced, per state.", no_args_is_help=True)

COLUMNS = ["id", "artifact_name", "artifact_type", "state_code", "artifact_path", "storage_backend", "is_resumable", "is_final", "expires_at"]

BuildId = Annotated[str, typer.Argument(help="Build id (UUID).", show_default=False, metavar="BUILD")]
ArtifactRef = Annotated[str, typer.Argument(help="Artifact id, or its name within the build.", show_default=False, metavar="ARTIFACT")]
Path_ = Annotated[Optional[str], typer.Option("--path", help="Where it is, e.g. s3://bucket/key.")]
Backend = Annotated[Optional[str], typer.Option("--backend", help="Storage backend: s3, azure_blob, gcp_storage, local, vsphere, aws, ...")]
Region = Annotated[Optional[str], typer.Option("--region", help="Storage region.")]
Bucket = Annotated[Optional[str], typer.Option("--bucket", help="Storage bucket.")]
Key = Annotated[Optional[str], typer.Option("--key", help="Storage key (object name).")]
Size = Annotated[Optional[int], typer.Option("--size", min=0, help="Size in bytes.")]
Checksum = Annotated[Optional[str], typer.Option("--checksum", help="Checksum of the content.")]
ChecksumAlgorithm = Annotated[Optional[str], typer.Option("--checksum-algorithm", help="Checksum algorithm [service default: sha256].")]
ExpiresAt = Annotated[Optional[str], typer.Option("--expires-at", help="ISO-8601 expiry, e.g. 2026-12-31T00:00:00Z.")]
Resumable = Annotated[Optional[bool], typer.Option("--resumable/--not-resumable", help="Usable to resume from [service default: resumable].", show_default=False)]
Final = Annotated[Optional[bool], typer.Option("--final/--not-final", help="A final output of the build (kept by cleanup).", show_default=False)]
Metadata = Annotated[Optional[str], typer.Option("--metadata", help="JSON object, or @FILE to read one.", metavar="JSON")]


def _storage(*, path: Any, backend: Any, region: Any, bucket: Any, key: Any, size: Any, checksum: Any,
             checksum_algorithm: Any, expires_at: Any, resumable: Any, final: Any, metadata: Any) -> dict[str, Any]:
    return drop_none(
        artifact_path=path, storage_backend=backend, storage_region=region, storage_bucket=bucket,
        storage_key=key, size_bytes=size, checksum=checksum, checksum_algorithm=checksum_algorithm,
        expires_at=parse_timestamp(expires_at, "--expires-at"), is_resumable=resumable, is_final=final,
        metadata=parse_json_object(metadata),
    )


def resolve_artifact_id(client: Any, build_id: str, ref: str) -> str:
    """An artifact id as given, or the id of the build's live artifact with that name."""
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    for artifact in client.get(f"/builds/{q(build_id)}/artifacts") or []:
        if artifact.get("artifact_name") == ref:
            return str(artifact["id"])
    raise ServiceError(f"build {build_id} has no artifact named {ref!r}")


@command(app, "register")
def register(
    build_id: BuildId,
    state: Annotated[int, typer.Option("--state", help="State code that produced it.", show_default=False)],
    name: Annotated[str, typer.Option("--name", help="Artifact name (unique in the build).", show_default=False)],
    artifact_type: Annotated[str, typer.Option("--type", help="Artifact type: vm_snapshot, ami, ebs_snapshot, disk_image, config_file, ...", show_default=False)],
    path: Annotated[str, typer.Option("--path", help="Where it is, e.g. s3://bucket/key.", show_default=False)],
    backend: Annotated[str, typer.Option("--backend", help="Storage backend: s3, azure_blob, gcp_storage, local, vsphere, aws, ...", show_default=False)],
    region: Region = None,
    bucket: Bucket = None,
    key: Key = None,
    size: Size = None,
    checksum: Checksum = None,
    checksum_algorithm: ChecksumAlgorithm = None,
    expires_at: ExpiresAt = None,
    resumable: Resumable = None,
    final: Final = None,
    metadata: Metadata = None,
) -> None:
    """Register an artifact a state produced."""
    body = {"state_code": state, "artifact_name": name, "artifact_type": artifact_type}
    body |= _storage(path=path, backend=backend, region=region, bucket=bucket, key=key, size=size, checksum=checksum,
                     checksum_algorithm=checksum_algorithm, expires_at=expires_at, resumable=resumable, final=final, metadata=metadata)
    s = session()
    s.emit(s.client.post(f"/builds/{q(build_id)}/artifacts", body))


@command(app, "list")
def list_artifacts(
    build_id: BuildId,
    state: Annotated[Optional[int], typer.Option("--state", help="Only artifacts of this state code.")] = None,
    artifact_type: Annotated[Optional[str], typer.Option("--type", help="Only artifacts of this type.")] = None,
    resumable: Annotated[Optional[bool], typer.Option("--resumable/--not-resumable", help="Only resumable (or only non-resumable) artifacts.", show_default=False)] = None,
    final: Annotated[Optional[bool], typer.Option("--final/--not-final", help="Only final (or only non-final) artifacts.", show_default=False)] = None,
) -> None:
    """List a build's live artifacts."""
    s = session()
    rows = s.client.get(f"/builds/{q(build_id)}/artifacts", state_code=state, artifact_type=artifact_type, is_resumable=resumable, is_final=final)
    s.emit(rows, COLUMNS)


@command(app, "get")
def get(build_id: BuildId, artifact: ArtifactRef) -> None:
    """Show one artifact."""
    s = session()
    artifact_id = resolve_artifact_id(s.client, build_id, artifact)
    s.emit(s.client.get(f"/builds/{q(build_id)}/artifacts/{q(artifact_id)}"))


@command(app, "update")
def update(
    build_id: BuildId,
    artifact: ArtifactRef,
    state: Annotated[Optional[int], typer.Option("--state", help="State code that produced it.")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="New artifact name.")] = None,
    artifact_type: Annotated[Optional[str], typer.Option("--type", help="New artifact type.")] = None,
    path: Path_ = None,
    backend: Backend = None,
    region: Region = None,
    bucket: Bucket = None,
    key: Key = None,
    size: Size = None,
    checksum: Checksum = None,
    checksum_algorithm: ChecksumAlgorithm = None,
    expires_at: ExpiresAt = None,
    resumable: Resumable = None,
    final: Final = None,
    metadata: Metadata = None,
) -> None:
    """Change an artifact's fields, flags or metadata (only the options given)."""
    body = drop_none(state_code=state, artifact_name=name, artifact_type=artifact_type) | _storage(path=path, backend=backend, region=region, bucket=bucket, key=key, size=size, checksum=checksum,
                    checksum_algorithm=checksum_algorithm, expires_at=expires_at, resumable=resumable, final=final, metadata=metadata)
    if not body:
        raise UsageError("nothing to change: give at least one option (see `bldst artifact update --help`)")
    s = session()
    artifact_id = resolve_artifact_id(s.client, build_id, artifact)
    s.emit(s.client.patch(f"/builds/{q(build_id)}/artifacts/{q(artifact_id)}", body))


@command(app, "delete")
def delete(build_id: BuildId, artifact: ArtifactRef) -> None:
    """Soft-delete an artifact (needs an admin key)."""
    s = session()
    artifact_id = resolve_artifact_id(s.client, build_id, artifact)
    answer = s.client.delete(f"/builds/{q(build_id)}/artifacts/{q(artifact_id)}")
    s.emit(answer if isinstance(answer, dict) else {"id": artifact_id, "deleted": True})
