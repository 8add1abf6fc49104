"""Optimistic concurrency: updates may name the version they read."""

from __future__ import annotations

from typing import Any

from app.services.errors import PreconditionFailed


def check_version(row: Any, expected: int | None) -> None:
    if expected is not None and row.version != expected:
        raise PreconditionFailed(
            f"version mismatch: expected {expected}, stored {row.version}; read it again",
            current_version=row.version,
        )
