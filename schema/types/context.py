"""The resume context: everything a job needs to continue a build, and what blocks it."""

from __future__ import annotations

import strawberry

from app.services.context import ResumeContext as ResumeContextData
from schema.types.artifact import Artifact
from schema.types.resumable import ResumableState


@strawberry.type(description="A variable as the resume context shows it (masked when sensitive).")
class ContextVariable:
    key: str
    value: str


@strawberry.type(description="How to continue a build: where from, with what, and what is missing.")
class ResumeContext:
    build_id: strawberry.ID
    current_state: int
    last_successful_state: int | None
    failed_state: int | None
    resume_from_state: int = strawberry.field(
        description="The open request's state, else the failed state, else the next state "
        "after the last successful one, else the current state."
    )
    can_resume: bool
    blockers: list[str] = strawberry.field(description="Why it cannot resume (empty when it can).")
    missing_artifacts: list[str]
    missing_variables: list[str]
    artifacts: list[Artifact] = strawberry.field(
        description="Live, resumable, unexpired artifacts, ordered by state code."
    )
    variables: list[ContextVariable]
    resumable_state_config: ResumableState | None = strawberry.field(
        description="The configuration of resumeFromState, when there is one."
    )

    @classmethod
    def from_data(cls, c: ResumeContextData) -> ResumeContext:
        config = c.resumable_state_config
        return cls(
            build_id=strawberry.ID(str(c.build_id)), current_state=c.current_state,
            last_successful_state=c.last_successful_state, failed_state=c.failed_state,
            resume_from_state=c.resume_from_state, can_resume=c.can_resume,
            blockers=list(c.blockers), missing_artifacts=list(c.missing_artifacts),
            missing_variables=list(c.missing_variables),
            # The service's records answer as they are: they hold every attribute `Artifact`
            # reads (same names; an id that the ID scalar writes as its text; `build_id` for the
            # `build` field), so no second object per artifact is made for one answer.
            artifacts=list(c.artifacts),  # type: ignore[arg-type]
            variables=[ContextVariable(key=k, value=v) for k, v in c.variables.items()],
            resumable_state_config=ResumableState.from_model(config) if config else None,
        )
