"""Projects and their state codes."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.services.actor import Actor
from app.services.commands import CreateProject, DefineStateCode, UpdateProject
from app.services.common import record_event
from app.services.errors import Conflict, NotFound
from db.models import Build, Project, StateCode


async def create_project(*, actor: Actor, command: CreateProject) -> Project:
    """Create a project; its id is a slug chosen by the caller."""
    actor.require("write")
    try:
        async with in_transaction():
            project = await Project.create(**command.model_dump())
            await record_event(
                actor, "project.created", target_type="project", target_id=project.id,
                project_id=project.id, data={"after": command.model_dump(mode="json")},
            )
    except IntegrityError:
        raise Conflict(f"project '{command.id}' already exists", existing_id=command.id) from None
    return project


async def get_project(*, actor: Actor, project_id: str) -> Project:
    actor.require("read")
    project = await Project.get_or_none(id=project_id)
    if project is None:
        raise NotFound(f"project '{project_id}' not found")
    return project


async def projects_by_ids(ids: list[str]) -> dict[str, Project]:
    """Batch read used by loaders."""
    return {p.id: p for p in await Project.filter(id__in=list(set(ids)))}


async def list_projects(*, actor: Actor, limit: int = 100, offset: int = 0) -> list[Project]:
    actor.require("read")
    return await Project.all().order_by("id").offset(offset).limit(limit)


async def update_project(*, actor: Actor, project_id: str, command: UpdateProject) -> Project:
    """Replace the fields the call gives."""
    actor.require("write")
    changes = command.model_dump(exclude_unset=True)
    async with in_transaction():
        project = await Project.select_for_update().get_or_none(id=project_id)
        if project is None:
            raise NotFound(f"project '{project_id}' not found")
        before = {k: getattr(project, k) for k in changes}
        project.update_from_dict(changes)
        await project.save()
        await record_event(
            actor, "project.updated", target_type="project", target_id=project.id,
            project_id=project.id, data={"before": before, "after": changes},
        )
    return project


async def delete_project(*, actor: Actor, project_id: str) -> None:
    """Delete a project that has no builds (builds are history and are never cascaded away)."""
    actor.require("admin")
    async with in_transaction():
        project = await Project.select_for_update().get_or_none(id=project_id)
        if project is None:
            raise NotFound(f"project '{project_id}' not found")
        builds = await Build.filter(project_id=project_id).count()
        if builds:
            raise Conflict(f"project '{project_id}' has {builds} build(s) and cannot be deleted")
        await project.delete()
        await record_event(
            actor, "project.deleted", target_type="project", target_id=project_id,
            project_id=project_id,
        )


async def define_state_code(*, actor: Actor, project_id: str, command: DefineStateCode) -> StateCode:
    """Add a numbered state to a project's state machine."""
    actor.require("write")
    await get_project(actor=actor, project_id=project_id)
    try:
        async with in_transaction():
            state = await StateCode.create(project_id=project_id, **command.model_dump())
            await record_event(
                actor, "state_code.defined", target_type="state_code", target_id=state.id,
                project_id=project_id, data={"after": command.model_dump(mode="json")},
            )
    except IntegrityError:
        existing = await StateCode.get_or_none(project_id=project_id, code=command.code)
        raise Conflict(
            f"state code {command.code} already exists in project '{project_id}'",
            existing_id=str(existing.id) if existing else None,
        ) from None
    return state


async def list_state_codes(*, actor: Actor, project_id: str) -> list[StateCode]:
    actor.require("read")
    await get_project(actor=actor, project_id=project_id)
    return await StateCode.filter(project_id=project_id).order_by("code")


async def state_codes_by_project_ids(ids: list[str]) -> dict[str, list[StateCode]]:
    out: dict[str, list[StateCode]] = {i: [] for i in ids}
    for state in await StateCode.filter(project_id__in=list(set(ids))).order_by("code"):
        out.setdefault(state.project_id, []).append(state)
    return out
