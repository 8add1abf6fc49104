"""Builds, state transitions, failures and history."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from app.rest.deps import Reader, Writer
from app.rest.schemas import BuildOut, EventOut, StateEntryOut
from app.services import audit, builds
from app.services.commands import BuildStatus, CreateBuild, RecordFailure, TransitionBuild

router = APIRouter(tags=["Builds"])


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = None


@router.post("/builds", status_code=201, response_model=BuildOut)
async def create_build(body: CreateBuild, actor: Writer):
    """Register a build of a project."""
    return await builds.create_build(actor=actor, command=body)


@router.get("/builds", response_model=list[BuildOut])
async def list_builds(
    actor: Reader,
    project_id: str | None = None,
    status: BuildStatus | None = None,
    platform: str | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000_000),
):
    """List builds, newest first."""
    page = await builds.list_builds(
        actor=actor, project_id=project_id, status=status.value if status else None,
        platform=platform, limit=limit, offset=offset,
    )
    return page.builds


@router.get("/builds/{build_id}", response_model=BuildOut)
async def get_build(build_id: str, actor: Reader):
    """Get a build with its derived states."""
    return await builds.get_build(actor=actor, build_id=build_id)


@router.post("/builds/{build_id}/state", response_model=BuildOut)
async def transition_build(build_id: str, body: TransitionBuild, actor: Writer):
    """Move a build to a state (reopens a failed build that has an open resume request)."""
    return await builds.transition_build(actor=actor, build_id=build_id, command=body)


@router.get("/builds/{build_id}/states", response_model=list[StateEntryOut])
async def state_history(build_id: str, actor: Reader):
    """The build's state history, oldest first."""
    return await builds.state_history(actor=actor, build_id=build_id)


@router.post("/builds/{build_id}/failure", response_model=BuildOut)
async def record_failure(build_id: str, body: RecordFailure, actor: Writer):
    """Record a failure; the build becomes failed."""
    return await builds.record_failure(actor=actor, build_id=build_id, command=body)


@router.post("/builds/{build_id}/cancel", response_model=BuildOut)
async def cancel_build(build_id: str, actor: Writer, body: CancelBody | None = None):
    """Cancel an unfinished build and its open resume request."""
    return await builds.cancel_build(
        actor=actor, build_id=build_id, reason=body.reason if body else None
    )


@router.get("/builds/{build_id}/events", response_model=list[EventOut], tags=["Audit"])
async def build_events(
    build_id: str, actor: Reader, limit: int = Query(100, ge=1, le=1000),
    after_id: int | None = Query(None, ge=0, le=2**63 - 1),
    action: str | None = Query(None, description="An action, or a family such as `resume.*`"),
    actor_name: str | None = Query(None, alias="actor", description="Who made the change"),
):
    """The build's audit trail: who changed what, when and why."""
    return await audit.build_events(
        actor=actor, build_id=build_id, limit=limit, after_id=after_id, action=action,
        actor_name=actor_name,
    )
