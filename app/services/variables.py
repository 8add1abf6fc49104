"""Build variables: what a build learned (VM ids, network ids). Sensitive ones are encrypted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.services.actor import Actor
from app.services.builds import get_build
from app.services.commands import SetVariable, UpdateVariable, VariableType
from app.services.common import record_event
from app.services.concurrency import check_version
from app.services.crypto import MASK, decrypt, encrypt
from app.services.errors import Forbidden, NotFound
from db.models import Build, Variable


@dataclass(frozen=True)
class VariableView:
    """A variable as a caller may see it: the value is masked unless revealed."""

    id: uuid.UUID
    build_id: uuid.UUID
    variable_key: str
    variable_value: str
    variable_type: str
    set_at_state: int | None
    is_sensitive: bool
    is_required_for_resume: bool
    version: int
    created_at: datetime
    updated_at: datetime


def shown_value(stored: str, is_sensitive: bool, reveal: bool) -> str:
    """What a caller sees of a stored value: sensitive ones masked unless revealed."""
    if is_sensitive:
        return decrypt(stored) if reveal else MASK
    return stored


def view(variable: Variable, *, reveal: bool = False) -> VariableView:
    value = shown_value(variable.variable_value, variable.is_sensitive, reveal)
    return VariableView(
        id=variable.id, build_id=variable.build_id, variable_key=variable.variable_key,
        variable_value=value, variable_type=variable.variable_type,
        set_at_state=variable.set_at_state, is_sensitive=variable.is_sensitive,
        is_required_for_resume=variable.is_required_for_resume, version=variable.version,
        created_at=variable.created_at, updated_at=variable.updated_at,
    )


async def _authorize_reveal(actor: Actor, build: Build, reveal: bool, keys: list[str]) -> None:
    """Revealing secrets is for admins, and every reveal is audited."""
    if not reveal:
        return
    if not actor.is_admin:
        raise Forbidden("revealing sensitive values needs the 'admin' scope", scope="admin")
    if keys:
        await record_event(
            actor, "variable.revealed", target_type="build", target_id=build.id,
            project_id=build.project_id, build_id=build.id, data={"keys": keys},
        )


def _masked(value: str | None, sensitive: bool) -> str | None:
    return MASK if sensitive and value is not None else value


@dataclass(frozen=True)
class SetResult:
    variable: VariableView
    created: bool


async def upsert_variable(build: Build, command: SetVariable | UpdateVariable, key: str) -> tuple[Variable, bool, dict]:
    """Insert or replace one variable inside the caller's transaction; returns (row, created, change)."""
    given = command.model_dump(exclude_unset=True, exclude={"variable_key"})
    if given.get("variable_type") == VariableType.encrypted:
        given["is_sensitive"] = True
    if "variable_type" in given and given["variable_type"] is not None:
        given["variable_type"] = given["variable_type"].value
    elif "variable_type" in given:
        given.pop("variable_type")
    existing = await Variable.select_for_update().get_or_none(build_id=build.id, variable_key=key)
    created = existing is None
    if created:
        existing = Variable(build_id=build.id, variable_key=key, variable_value="")
        old_value, old_sensitive = None, False
    else:
        old_sensitive = existing.is_sensitive
        old_value = decrypt(existing.variable_value) if old_sensitive else existing.variable_value
    plain = given.pop("variable_value", old_value)
    if plain is None:
        raise NotFound(f"variable '{key}' has no value to keep")
    for name, value in given.items():
        if value is not None:
            setattr(existing, name, value)
    existing.variable_value = encrypt(plain) if existing.is_sensitive else plain
    if not created:
        existing.version += 1
    await existing.save()
    sensitive = existing.is_sensitive or old_sensitive
    change = {"key": key, "old": _masked(old_value, sensitive), "new": _masked(plain, sensitive)}
    return existing, created, change


async def set_variable(*, actor: Actor, build_id: str, command: SetVariable) -> SetResult:
    """Upsert by key: flags the call gives replace the stored ones, the others are kept."""
    actor.require("write")
    build = await get_build(actor=actor, build_id=build_id)
    for attempt in range(2):
        try:
            async with in_transaction():
                row, created, change = await upsert_variable(build, command, command.variable_key)
                await record_event(
                    actor, "variable.set", target_type="variable", target_id=row.id,
                    project_id=build.project_id, build_id=build.id,
                    data={"before": {"value": change["old"]}, "after": {"value": change["new"]},
                          "key": row.variable_key, "created": created},
                )
            return SetResult(view(row), created)
        except IntegrityError:
            # Two first writes of one key raced; the loser retries as an update.
            if attempt:
                raise
    raise AssertionError("unreachable")


async def update_variable(
    *, actor: Actor, build_id: str, key: str, command: UpdateVariable,
    expected_version: int | None = None,
) -> VariableView:
    """Change an existing variable (404 when the key is not set)."""
    actor.require("write")
    build = await get_build(actor=actor, build_id=build_id)
    async with in_transaction():
        existing = await Variable.select_for_update().get_or_none(build_id=build.id, variable_key=key)
        if existing is None:
            raise NotFound(f"variable '{key}' not found in build '{build_id}'")
        check_version(existing, expected_version)
        row, _, change = await upsert_variable(build, command, key)
        await record_event(
            actor, "variable.updated", target_type="variable", target_id=row.id,
            project_id=build.project_id, build_id=build.id,
            data={"before": {"value": change["old"]}, "after": {"value": change["new"]}, "key": key},
        )
    return view(row)


async def get_variable(*, actor: Actor, build_id: str, key: str, reveal: bool = False) -> VariableView:
    actor.require("read")
    build = await get_build(actor=actor, build_id=build_id)
    row = await Variable.get_or_none(build_id=build.id, variable_key=key)
    if row is None:
        raise NotFound(f"variable '{key}' not found in build '{build_id}'")
    await _authorize_reveal(actor, build, reveal, [key] if row.is_sensitive else [])
    return view(row, reveal=reveal)


async def list_variables(*, actor: Actor, build_id: str, reveal: bool = False) -> list[VariableView]:
    actor.require("read")
    build = await get_build(actor=actor, build_id=build_id)
    rows = (await variables_by_build_ids([build.id]))[build.id]
    await _authorize_reveal(actor, build, reveal, [r.variable_key for r in rows if r.is_sensitive])
    return [view(r, reveal=reveal) for r in rows]


async def delete_variable(*, actor: Actor, build_id: str, key: str) -> None:
    actor.require("write")
    build = await get_build(actor=actor, build_id=build_id)
    async with in_transaction():
        row = await Variable.select_for_update().get_or_none(build_id=build.id, variable_key=key)
        if row is None:
            raise NotFound(f"variable '{key}' not found in build '{build_id}'")
        await row.delete()
        await record_event(
            actor, "variable.deleted", target_type="variable", target_id=row.id,
            project_id=build.project_id, build_id=build.id,
            data={"key": key, "before": {"value": _masked(row.variable_value, row.is_sensitive)}},
        )


async def variables_by_build_ids(ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Variable]]:
    """Batch read (raw rows; pass them through `view` before showing them)."""
    out: dict[uuid.UUID, list[Variable]] = {i: [] for i in ids}
    for row in await Variable.filter(build_id__in=ids).order_by("variable_key"):
        out.setdefault(row.build_id, []).append(row)
    return out
