"""Projects, state codes and resumable-state configuration."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from app.rest.deps import Admin, Reader, Writer
from app.rest.schemas import ProjectOut, ResumableStateOut, StateCodeOut
from app.services import projects, resumable
from app.services.commands import (
    CreateProject,
    DefineResumableState,
    DefineStateCode,
    UpdateProject,
    UpdateResumableState,
)

router = APIRouter()


@router.post("/projects", status_code=201, response_model=ProjectOut, tags=["Projects"])
async def create_project(body: CreateProject, actor: Writer):
    """Create a project."""
    return await projects.create_project(actor=actor, command=body)


@router.get("/projects", response_model=list[ProjectOut], tags=["Projects"])
async def list_projects(
    actor: Reader, limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=1_000_000_000)
):
    """List projects."""
    return await projects.list_projects(actor=actor, limit=limit, offset=offset)


@router.get("/projects/{project_id}", response_model=ProjectOut, tags=["Projects"])
async def get_project(project_id: str, actor: Reader):
    """Get a project."""
    return await projects.get_project(actor=actor, project_id=project_id)


@router.put("/projects/{project_id}", response_model=ProjectOut, tags=["Projects"])
async def update_project(project_id: str, body: UpdateProject, actor: Writer):
    """Update a project (the fields given)."""
    return await projects.update_project(actor=actor, project_id=project_id, command=body)


@router.delete("/projects/{project_id}", status_code=204, tags=["Projects"])
async def delete_project(project_id: str, actor: Admin):
    """Delete a project without builds (admin)."""
    await projects.delete_project(actor=actor, project_id=project_id)
    return Response(status_code=204)


@router.post(
    "/projects/{project_id}/state-codes", status_code=201, response_model=StateCodeOut,
    tags=["Projects"],
)
async def define_state_code(project_id: str, body: DefineStateCode, actor: Writer):
    """Define a numbered state of the project."""
    return await projects.define_state_code(actor=actor, project_id=project_id, command=body)


@router.get(
    "/projects/{project_id}/state-codes", response_model=list[StateCodeOut], tags=["Projects"]
)
async def list_state_codes(project_id: str, actor: Reader):
    """List the project's states, ordered by code."""
    return await projects.list_state_codes(actor=actor, project_id=project_id)


@router.post(
    "/projects/{project_id}/resumable-states", status_code=201,
    response_model=ResumableStateOut, tags=["Resumable States"],
)
async def define_resumable_state(project_id: str, body: DefineResumableState, actor: Writer):
    """Define how a state is resumed."""
    return await resumable.define_resumable_state(actor=actor, project_id=project_id, command=body)


@router.get(
    "/projects/{project_id}/resumable-states", response_model=list[ResumableStateOut],
    tags=["Resumable States"],
)
async def list_resumable_states(project_id: str, actor: Reader):
    """List resumable-state configs."""
    return await resumable.list_resumable_states(actor=actor, project_id=project_id)


@router.get(
    "/projects/{project_id}/resumable-states/{state_code}", response_model=ResumableStateOut,
    tags=["Resumable States"],
)
async def get_resumable_state(project_id: str, state_code: int, actor: Reader):
    """Get the config of one state."""
    return await resumable.get_resumable_state(
        actor=actor, project_id=project_id, state_code=state_code
    )


@router.put(
    "/projects/{project_id}/resumable-states/{state_code}", response_model=ResumableStateOut,
    tags=["Resumable States"],
)
async def update_resumable_state(
    project_id: str, state_code: int, body: UpdateResumableState, actor: Writer
):
    """Update the config of one state (the fields given)."""
    return await resumable.update_resumable_state(
        actor=actor, project_id=project_id, state_code=state_code, command=body
    )
