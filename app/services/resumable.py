"""Resumable-state configuration: which states of a project can be resumed, and how."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.services.actor import Actor
from app.services.commands import DefineResumableState, UpdateResumableState
from app.services.common import record_event
from app.services.errors import Conflict, NotFound
from app.services.projects import get_project
from db.models import ResumableState


async def define_resumable_state(
    *, actor: Actor, project_id: str, command: DefineResumableState
) -> ResumableState:
    """Declare how a state of the project is resumed (one config per state code)."""
    actor.require("write")
    await get_project(actor=actor, project_id=project_id)
    data = command.model_dump()
    data["resume_strategy"] = command.resume_strategy.value
    try:
        async with in_transaction():
            config = await ResumableState.create(project_id=project_id, **data)
            await record_event(
                actor, "resumable_state.defined", target_type="resumable_state",
                target_id=config.id, project_id=project_id,
                data={"after": command.model_dump(mode="json")},
            )
    except IntegrityError:
        existing = await ResumableState.get_or_none(project_id=project_id, state_code=command.state_code)
        raise Conflict(
            f"state {command.state_code} of project '{project_id}' is already configured; "
            "use PUT to change it",
            existing_id=str(existing.id) if existing else None,
        ) from None
    return config


async def list_resumable_states(*, actor: Actor, project_id: str) -> list[ResumableState]:
    actor.require("read")
    await get_project(actor=actor, project_id=project_id)
    return await ResumableState.filter(project_id=project_id).order_by("state_code")


async def get_resumable_state(*, actor: Actor, project_id: str, state_code: int) -> ResumableState:
    actor.require("read")
    await get_project(actor=actor, project_id=project_id)
    config = await ResumableState.get_or_none(project_id=project_id, state_code=state_code)
    if config is None:
        raise NotFound(f"state {state_code} of project '{project_id}' has no resumable config")
    return config


async def update_resumable_state(
    *, actor: Actor, project_id: str, state_code: int, command: UpdateResumableState
) -> ResumableState:
    """Replace the fields the call gives."""
    actor.require("write")
    await get_project(actor=actor, project_id=project_id)
    changes = command.model_dump(mode="json", exclude_unset=True)
    async with in_transaction():
        config = await ResumableState.select_for_update().get_or_none(
            project_id=project_id, state_code=state_code
        )
        if config is None:
            raise NotFound(f"state {state_code} of project '{project_id}' has no resumable config")
        before = {k: getattr(config, k) for k in changes}
        config.update_from_dict(changes)
        await config.save()
        await record_event(
            actor, "resumable_state.updated", target_type="resumable_state", target_id=config.id,
            project_id=project_id, data={"before": before, "after": changes},
        )
    return config


async def configs_for(pairs: list[tuple[str, int]]) -> dict[tuple[str, int], ResumableState]:
    """Batch read: configs for (project_id, state_code) pairs, in one statement."""
    if not pairs:
        return {}
    projects = list({p for p, _ in pairs})
    codes = list({c for _, c in pairs})
    rows = await ResumableState.filter(project_id__in=projects, state_code__in=codes)
    wanted = set(pairs)
    return {(r.project_id, r.state_code): r for r in rows if (r.project_id, r.state_code) in wanted}


async def resumable_states_by_project_ids(ids: list[str]) -> dict[str, list[ResumableState]]:
    """Batch read used by loaders: every project's configs, ordered by state code."""
    out: dict[str, list[ResumableState]] = {i: [] for i in ids}
    for row in await ResumableState.filter(project_id__in=list(set(ids))).order_by("state_code"):
        out.setdefault(row.project_id, []).append(row)
    return out
