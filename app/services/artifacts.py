"""Artifacts: what a build produced at each state (snapshots, images, files)."""

from __future__ import annotations

import functools
import types
import typing
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tortoise import fields as tf
from tortoise import timezone as tz
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.services.actor import Actor
from app.services.builds import get_build
from app.services.commands import RegisterArtifact, UpdateArtifact
from app.services.common import (
    EVENT_COLUMN_TYPES,
    EVENT_COLUMNS,
    event_db_values,
    event_fields,
    integrity_kind,
    parse_uuid,
    record_event,
    saved_instance,
    utcnow,
)
from app.services.concurrency import check_version
from app.services.errors import Conflict, NotFound
from db import pool as db_pool
from db.models import Artifact, Build


@dataclass(frozen=True)
class ArtifactFilter:
    state_code: int | None = None
    artifact_type: str | None = None
    is_resumable: bool | None = None
    is_final: bool | None = None
    include_deleted: bool = False

    def matches(self, a: Artifact) -> bool:
        return (
            (self.include_deleted or a.deleted_at is None)
            and (self.state_code is None or a.state_code == self.state_code)
            and (self.artifact_type is None or a.artifact_type == self.artifact_type)
            and (self.is_resumable is None or a.is_resumable == self.is_resumable)
            and (self.is_final is None or a.is_final == self.is_final)
        )


async def _live_duplicate(build_id: uuid.UUID, name: str) -> Artifact | None:
    return await Artifact.get_or_none(build_id=build_id, artifact_name=name, deleted_at=None)


async def _refusal(
    exc: IntegrityError, build_uuid: uuid.UUID, build_id: str | uuid.UUID, name: str
) -> Exception:
    """What a refused artifact write answers: a taken live name is a Conflict naming the existing
    artifact (read after the failure: call it outside a failed PostgreSQL transaction); a build
    gone meanwhile (its project deleted) is NotFound; any other constraint (NOT NULL, CHECK, a
    trigger's RAISE on SQLite) is not a duplicate and stays what it is (REST: 409 "the change
    conflicts with existing data"), never a made-up "already exists"."""
    kind = integrity_kind(exc)
    if kind == "unique":
        return _duplicate(name, await _live_duplicate(build_uuid, name))
    if kind == "foreign_key":
        return NotFound(f"build '{build_id}' not found")
    return exc


def _duplicate(name: str, existing: Artifact | None) -> Conflict:
    ident = str(existing.id) if existing else None
    return Conflict(
        f"artifact '{name}' already exists in this build" + (f" (id {ident})" if ident else ""),
        existing_id=ident, field="artifact_name",
    )


async def register_artifact(*, actor: Actor, build_id: str, command: RegisterArtifact) -> Artifact:
    """Record an artifact; its name is unique among the build's live artifacts."""
    actor.require("write")
    db = Artifact._meta.db  # resolved once (a context lookup): the transaction's or the pool's
    if db.capabilities.dialect == "postgres":
        return await _register_on_postgres(db, actor, build_id, command)
    build = await get_build(actor=actor, build_id=build_id)
    try:
        async with in_transaction():
            artifact = await Artifact.create(build_id=build.id, **command.model_dump())
            await record_event(
                actor, "artifact.registered", target_type="artifact", target_id=artifact.id,
                project_id=build.project_id, build_id=build.id,
                data=_registered_data(artifact),
            )
    except IntegrityError as exc:
        raise await _refusal(exc, build.id, build_id, command.artifact_name) from None
    return artifact


def _registered_data(artifact: Artifact | dict[str, Any]) -> dict:
    a = artifact if isinstance(artifact, dict) else vars(artifact)
    return {"after": {"artifact_name": a["artifact_name"], "artifact_type": a["artifact_type"],
                      "state_code": a["state_code"], "artifact_path": a["artifact_path"]}}


# The hottest write, on PostgreSQL: ONE statement, sent in autocommit when no transaction is
# open (one round trip: no BEGIN/COMMIT), on the open transaction's connection otherwise (Tortoise
# looks the connection up in the task's context: the caller's transaction wrapper, e.g. the one
# an Idempotency-Key's work runs in). A single statement is atomic; its NOTIFY is delivered at
# commit. In it:
#   b: the build (none: no row at all, NotFound);
#   a: the artifact's INSERT; a live name already taken inserts nothing (ON CONFLICT on the
#      partial unique index uq_build_artifacts_live_name, DO NOTHING): the refusal raises no
#      error, so a caller's transaction stays usable without a savepoint (a SAVEPOINT and its
#      RELEASE would be two more round trips) and the follow-up read names the existing id;
#   e: the event row, only for an inserted artifact (a refusal consumes no event id), with the
#      columns and values `record_event` writes (`event_fields`, `event_db_values`), its
#      project the build's;
#   and the NOTIFY of the event id, as `record_event` sends it.
# The values are the ORM's own, planned once per column (`_plan_register`) instead of running
# `Artifact(...)` and every `to_db_value` per call; tests/services/test_perf_write_artifact.py
# and test_write_values.py compare both rows and the returned model with what the ORM writes.
_PG_COLUMNS = (
    ("id", "uuid"), ("build_id", "uuid"), ("state_code", "int"), ("artifact_name", "varchar"),
    ("artifact_type", "varchar"), ("artifact_path", "text"), ("storage_backend", "varchar"),
    ("storage_region", "varchar"), ("storage_bucket", "varchar"), ("storage_key", "text"),
    ("size_bytes", "bigint"), ("checksum", "varchar"), ("checksum_algorithm", "varchar"),
    ("is_resumable", "bool"), ("is_final", "bool"), ("expires_at", "timestamptz"),
    ("metadata", "jsonb"), ("version", "int"), ("deleted_at", "timestamptz"),
    ("deleted_reason", "varchar"), ("storage_deleted_at", "timestamptz"),
    ("created_at", "timestamptz"), ("updated_at", "timestamptz"),
)
_PG_EVENT_FROM_BUILD = {"project_id": 'b."project_id"'}  # the others are parameters
_ID_POSITION, _BUILD_POSITION = 0, 1
assert (_PG_COLUMNS[_ID_POSITION][0], _PG_COLUMNS[_BUILD_POSITION][0]) == ("id", "build_id")
_EVENT_FROM_BUILD_POSITION = EVENT_COLUMNS.index("project_id")
assert tuple(_PG_EVENT_FROM_BUILD) == ("project_id",)


def _pg_register_sql() -> str:
    params = iter(range(len(_PG_COLUMNS) + 1, len(_PG_COLUMNS) + len(EVENT_COLUMNS) + 1))
    event_select = ", ".join(
        _PG_EVENT_FROM_BUILD.get(c) or f"${next(params)}::{EVENT_COLUMN_TYPES[c]}"
        for c in EVENT_COLUMNS
    )
    return (
        'WITH b AS (SELECT "id", "project_id" FROM "builds" WHERE "id" = $2::uuid), '
        'a AS (INSERT INTO "build_artifacts" ('
        + ", ".join(f'"{c}"' for c, _ in _PG_COLUMNS)
        + ") SELECT "
        + ", ".join('b."id"' if c == "build_id" else f"${i}::{t}"
                    for i, (c, t) in enumerate(_PG_COLUMNS, start=1))
        + ' FROM b ON CONFLICT ("build_id", "artifact_name") WHERE "deleted_at" IS NULL'
        ' DO NOTHING RETURNING 1), '
        'e AS (INSERT INTO "events" (' + ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
        + ") SELECT " + event_select + ' FROM b CROSS JOIN a RETURNING "id") '
        'SELECT e."id", CASE WHEN e."id" IS NOT NULL'
        " THEN pg_notify('buildstate_events', e.\"id\"::text) END"
        " FROM b LEFT JOIN e ON TRUE"
    )


_PG_REGISTER = _pg_register_sql()


# Fields whose `to_db_value` and `to_python_value` are the identity for a value already of
# their `field_type` that passes their validators (Field's own conversions, not overridden).
_PLAIN_FIELDS = (tf.CharField, tf.TextField, tf.IntField, tf.BigIntField, tf.BooleanField)


@dataclass(frozen=True)
class _RegisterPlan:
    """How each artifact column gets its value on the fast path, decided once from the model's
    fields and the command's declaration (what `Artifact(...)` + `to_db_value` would do)."""

    columns: tuple[str, ...]  # _PG_COLUMNS' names, in order
    fixed: dict[str, Any]  # immutable defaults (version) and NULLs (deleted_at, ...)
    factories: tuple[tuple[str, Callable[[], Any]], ...]  # callable defaults: the uuid4 id
    auto_now: tuple[tuple[str, int, tf.DatetimeField], ...]  # created_at, updated_at, in order
    to_python: tuple[tuple[str, Callable[[Any], Any]], ...]  # command values it converts
    to_db: tuple[tuple[int, Callable[[Any, Any], Any]], ...]  # (position, field.to_db_value)


@functools.cache  # at first use: Tortoise.init adds the foreign key's build_id field
def _plan_register() -> _RegisterPlan:
    """Read off `Artifact._meta.fields_map` and `RegisterArtifact.model_fields`: a command field
    of a plain field (text, integer, boolean) is sent as pydantic validated it when the
    declaration proves the ORM's conversion and validators are the identity (same type, NULL
    only where the column allows it, max_length within the column's); any other command field
    (datetime: `to_python_value` moves it to the configured zone; JSON; UUID) goes through the
    field's own `to_python_value`/`to_db_value`; a column the command lacks takes the field's
    default as `Model.__init__` gives it. A column this cannot place is an import error, not a
    silently different row."""
    fields = Artifact._meta.fields_map
    declared = RegisterArtifact.model_fields
    columns = tuple(c for c, _ in _PG_COLUMNS)
    fixed: dict[str, Any] = {}
    factories, auto_now, to_python, to_db = [], [], [], []
    for position, column in enumerate(columns):
        field = fields[column]
        if column == "build_id":
            to_db.append((position, field.to_db_value))
        elif column in declared:
            if type(field) in _PLAIN_FIELDS:
                _check_plain(column, field, declared[column])
            else:
                to_python.append((column, field.to_python_value))
                to_db.append((position, field.to_db_value))
        elif isinstance(field, tf.DatetimeField) and (field.auto_now or field.auto_now_add):
            auto_now.append((column, position, field))
        elif callable(field.default):
            factories.append((column, field.default))
            to_db.append((position, field.to_db_value))
        elif field.has_db_default():
            raise TypeError(f"register plan: {column} has a database default")
        elif (field.default is None and field.null) or (
                type(field) in _PLAIN_FIELDS and isinstance(field.default, field.field_type)):
            fixed[column] = field.default  # immutable: Model.__init__ does not copy it either
        else:
            raise TypeError(f"register plan: no rule for the column {column}")
    return _RegisterPlan(columns, fixed, tuple(factories), tuple(auto_now), tuple(to_python),
                         tuple(to_db))


def _check_plain(column: str, field: tf.Field, declared: Any) -> None:
    kinds = set(typing.get_args(declared.annotation)) if isinstance(
        declared.annotation, types.UnionType) else {declared.annotation}
    limit = min((m.max_length for m in declared.metadata
                 if getattr(m, "max_length", None) is not None), default=None)
    column_limits = [getattr(v, "max_length", None) for v in field.validators]
    if (kinds - {type(None)} != {field.field_type}
            or (type(None) in kinds and not field.null)
            or any(c is None or limit is None or limit > c for c in column_limits)):
        raise TypeError(f"register plan: RegisterArtifact.{column} is not proven to pass "
                        f"{type(field).__name__} unchanged")


def _artifact_row(build_uuid: uuid.UUID, command: RegisterArtifact) -> tuple[dict, list]:
    """The artifact's attribute values (Python form) and its `_PG_COLUMNS` values (as the ORM
    sends them), per `_plan_register()`."""
    plan = _plan_register()
    # The validated values themselves (`model_dump` would copy them, the metadata deeply: the
    # row is written and returned, the command is not used again).
    row = dict(command.__dict__)
    for column, convert in plan.to_python:
        row[column] = convert(row[column])
    row["build_id"] = build_uuid
    row.update(plan.fixed)
    for column, factory in plan.factories:
        row[column] = factory()
    values = list(map(row.get, plan.columns))  # auto_now columns: placed below
    for column, position, _ in plan.auto_now:  # each its own now, as in to_db_value
        # `localtime()` is already in the configured zone, so the field's `to_python_value`
        # (astimezone to that zone) would hand back this very object.
        values[position] = row[column] = tz.localtime()
    for position, to_db_value in plan.to_db:
        values[position] = to_db_value(values[position], Artifact)
    return row, values


async def _register_on_postgres(
    db: Any, actor: Actor, build_id: str, command: RegisterArtifact
) -> Artifact:
    actor.require("read")  # what get_build checks on the other path (write implies it anyway)
    build_uuid = parse_uuid(build_id, "build")
    row, values = _artifact_row(build_uuid, command)
    # target_id and build_id: the texts already made for the artifact's id and build_id
    # columns (the event's UUIDField sends a text as is: `value and str(value)`).
    event = event_fields(
        actor, "artifact.registered", target_type="artifact", target_id=values[_ID_POSITION],
        project_id=None, build_id=values[_BUILD_POSITION], data=_registered_data(row),
    )
    _, event_row = event_db_values(event)
    values += event_row[:_EVENT_FROM_BUILD_POSITION]  # all but project_id (the build's)
    values += event_row[_EVENT_FROM_BUILD_POSITION + 1:]
    try:  # on `db`: the open transaction's connection if there is one, else the pool; what
        # `db.execute_query` sends and raises, without Tortoise's wrapping (db.pool.fetch_rows)
        rows = await db_pool.fetch_rows(db, _PG_REGISTER, values)
    except IntegrityError as exc:
        raise await _refusal(exc, build_uuid, build_id, command.artifact_name) from None
    if not rows:
        raise NotFound(f"build '{build_id}' not found")
    if rows[0][0] is None:  # the live name is taken: nothing was written
        raise _duplicate(command.artifact_name,
                         await _live_duplicate(build_uuid, command.artifact_name))
    return saved_instance(Artifact, row)


async def get_artifact(*, actor: Actor, build_id: str, artifact_id: str) -> Artifact:
    actor.require("read")
    build = await get_build(actor=actor, build_id=build_id)
    artifact = await Artifact.get_or_none(
        id=parse_uuid(artifact_id, "artifact"), build_id=build.id, deleted_at=None
    )
    if artifact is None:
        raise NotFound(f"artifact '{artifact_id}' not found in build '{build_id}'")
    return artifact


async def list_artifacts(*, actor: Actor, build_id: str, filter: ArtifactFilter) -> list[Artifact]:
    actor.require("read")
    build = await get_build(actor=actor, build_id=build_id)
    return (await artifacts_by_build_ids([build.id], filter))[build.id]


async def artifacts_by_build_ids(
    ids: list[uuid.UUID], filter: ArtifactFilter = ArtifactFilter()
) -> dict[uuid.UUID, list[Artifact]]:
    """Batch read: one statement for any number of builds."""
    query = Artifact.filter(build_id__in=ids)
    if not filter.include_deleted:
        query = query.filter(deleted_at__isnull=True)
    if filter.state_code is not None:
        query = query.filter(state_code=filter.state_code)
    if filter.artifact_type is not None:
        query = query.filter(artifact_type=filter.artifact_type)
    if filter.is_resumable is not None:
        query = query.filter(is_resumable=filter.is_resumable)
    if filter.is_final is not None:
        query = query.filter(is_final=filter.is_final)
    out: dict[uuid.UUID, list[Artifact]] = {i: [] for i in ids}
    for artifact in await query.order_by("state_code", "created_at"):
        out.setdefault(artifact.build_id, []).append(artifact)
    return out


async def _lock_artifact(build: Build, artifact_id: str) -> Artifact:
    artifact = await Artifact.select_for_update().get_or_none(
        id=parse_uuid(artifact_id, "artifact"), build_id=build.id, deleted_at=None
    )
    if artifact is None:
        raise NotFound(f"artifact '{artifact_id}' not found in build '{build.id}'")
    return artifact


async def update_artifact(
    *, actor: Actor, build_id: str, artifact_id: str, command: UpdateArtifact,
    expected_version: int | None = None,
) -> Artifact:
    """Change the fields the call gives (metadata is replaced as a whole)."""
    actor.require("write")
    build = await get_build(actor=actor, build_id=build_id)
    changes = command.model_dump(exclude_unset=True)
    try:
        async with in_transaction():
            artifact = await _lock_artifact(build, artifact_id)
            check_version(artifact, expected_version)
            before = {k: _jsonable(getattr(artifact, k)) for k in changes}
            artifact.update_from_dict(changes)
            artifact.version += 1
            await artifact.save()
            await record_event(
                actor, "artifact.updated", target_type="artifact", target_id=artifact.id,
                project_id=build.project_id, build_id=build.id,
                data={"before": before, "after": command.model_dump(mode="json", exclude_unset=True)},
            )
    except IntegrityError as exc:
        raise await _refusal(exc, build.id, build_id, changes.get("artifact_name", "")) from None
    return artifact


async def delete_artifact(*, actor: Actor, build_id: str, artifact_id: str) -> Artifact:
    """Soft delete: the row stays for the audit trail, it no longer counts anywhere."""
    actor.require("admin")
    build = await get_build(actor=actor, build_id=build_id)
    async with in_transaction():
        artifact = await _lock_artifact(build, artifact_id)
        artifact.deleted_at = utcnow()
        artifact.version += 1
        await artifact.save()
        await record_event(
            actor, "artifact.deleted", target_type="artifact", target_id=artifact.id,
            project_id=build.project_id, build_id=build.id,
            data={"before": {"artifact_name": artifact.artifact_name}},
        )
    return artifact


def _jsonable(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value
