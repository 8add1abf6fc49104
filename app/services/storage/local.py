"""Artifacts kept as files under one root folder."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlsplit

from app.services.storage import StorageError
from db.models import Artifact


class LocalStorage:
    """Deletes files, and only files under `root`: a recorded path is data, not an order."""

    name = "local"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def path_of(self, artifact: Artifact) -> Path:
        raw = artifact.storage_key or artifact.artifact_path or ""
        if raw.startswith("file://"):
            raw = unquote(urlsplit(raw).path)
        candidate = Path(raw)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        resolved = candidate.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise StorageError(f"'{raw}' is outside the storage root {self.root}; not deleted")
        if resolved == self.root:
            raise StorageError("the artifact names the storage root itself; not deleted")
        return resolved

    async def delete(self, artifact: Artifact) -> None:
        path = self.path_of(artifact)
        await asyncio.to_thread(self._unlink, path)

    @staticmethod
    def _unlink(path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except IsADirectoryError:
            raise StorageError(f"{path} is a folder; artifacts are files") from None
        except OSError as exc:
            raise StorageError(f"cannot delete {path}: {exc.strerror or exc}") from None
