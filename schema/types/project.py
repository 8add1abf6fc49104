"""Projects and their numbered states."""

from __future__ import annotations

from datetime import datetime
import strawberry

from db import models
from schema.context import Info
from schema.types.resumable import ResumableState


@strawberry.type(description="A numbered state of a project's build; states are ordered by code.")
class StateCode:
    id: strawberry.ID
    code: int
    name: str
    description: str | None
    is_initial: bool
    is_final: bool = strawberry.field(description="Reaching it `completed` completes the build.")
    is_error: bool
    created_at: datetime

    @classmethod
    def from_model(cls, m: models.StateCode) -> StateCode:
        return cls(
            id=strawberry.ID(str(m.id)), code=m.code, name=m.name, description=m.description,
            is_initial=m.is_initial, is_final=m.is_final, is_error=m.is_error,
            created_at=m.created_at,
        )


@strawberry.type(description="A product whose builds are tracked; its id is a slug.")
class Project:
    id: strawberry.ID
    name: str
    description: str | None
    auto_resume: bool = strawberry.field(description="File resume requests for retryable failures.")
    max_auto_resumes: int
    default_platform: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, m: models.Project) -> Project:
        return cls(
            id=strawberry.ID(m.id), name=m.name, description=m.description,
            auto_resume=m.auto_resume, max_auto_resumes=m.max_auto_resumes,
            default_platform=m.default_platform, created_at=m.created_at, updated_at=m.updated_at,
        )

    @strawberry.field(description="The project's states, ordered by code.")
    async def state_codes(self, info: Info) -> list[StateCode]:
        rows = await info.context.loaders.state_codes.load(str(self.id))
        return [StateCode.from_model(r) for r in rows]

    @strawberry.field(description="How each configured state is resumed, ordered by state code.")
    async def resumable_states(self, info: Info) -> list[ResumableState]:
        rows = await info.context.loaders.resumable_states.load(str(self.id))
        return [ResumableState.from_model(r) for r in rows]
