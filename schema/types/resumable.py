"""Resumable-state configuration: which state of a project can be resumed, and how."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db import models
from schema.enums import ResumeStrategy


@strawberry.type(description="How one state of a project is resumed.")
class ResumableState:
    id: strawberry.ID
    project_id: strawberry.Private[str]
    state_code: int
    is_resumable: bool
    resume_strategy: ResumeStrategy
    required_artifacts: list[str] = strawberry.field(
        description="Artifact names or types that must be live, resumable and unexpired."
    )
    required_variables: list[str] = strawberry.field(description="Variable keys that must be set.")
    resume_command: str | None
    resume_timeout_seconds: int
    description: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, m: models.ResumableState) -> ResumableState:
        return cls(
            id=strawberry.ID(str(m.id)), project_id=m.project_id, state_code=m.state_code,
            is_resumable=m.is_resumable, resume_strategy=ResumeStrategy(m.resume_strategy),
            required_artifacts=[str(a) for a in m.required_artifacts or []],
            required_variables=[str(v) for v in m.required_variables or []],
            resume_command=m.resume_command, resume_timeout_seconds=m.resume_timeout_seconds,
            description=m.description, notes=m.notes,
            created_at=m.created_at, updated_at=m.updated_at,
        )
