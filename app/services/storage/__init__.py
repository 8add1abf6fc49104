"""Storage backends the cleanup job deletes artifacts from: small classes, one per kind.

A backend deletes the object an artifact names and is idempotent: an object that is already
gone is not an error (the job may have died between deleting it and recording that it did).
Anything else that goes wrong raises `StorageError`, and the artifact's record stays as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from db.models import Artifact


class StorageError(Exception):
    """The backend could not delete the object; the message says why."""


class StorageBackend(Protocol):
    name: str

    async def delete(self, artifact: Artifact) -> None:
        """Delete the artifact's object; no error when it is already gone."""


def backend_name(artifact: Artifact) -> str | None:
    """The backend an artifact lives on: its `storage_backend`, else what its path says."""
    if artifact.storage_backend:
        return artifact.storage_backend.lower()
    path = artifact.artifact_path or ""
    if path.startswith("s3://"):
        return "s3"
    if path.startswith("file://") or path.startswith("/"):
        return "local"
    return None


def pick(backends: Mapping[str, StorageBackend], artifact: Artifact) -> StorageBackend | None:
    name = backend_name(artifact)
    return backends.get(name) if name else None


__all__ = ["StorageBackend", "StorageError", "backend_name", "pick"]
