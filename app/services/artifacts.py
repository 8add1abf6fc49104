"""Artifacts: what a build produced at each state (snapshots, images, files)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.services.actor import Actor
from app.services.builds import get_build
from app.services.commands import RegisterArtifact, UpdateArtifact
from app.services.common import (
    EVENT_COLUMN_TYPES,
    EVENT_COLUMNS,
    event_values,
    integrity_kind,
    parse_uuid,
    record_event,
    utcnow,
)
from app.services.concurrency import check_version
from app.services.errors import Conflict, NotFound
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
    if Artifact._meta.db.capabilities.dialect == "postgres":
        return await _register_on_postgres(actor, build_id, command)
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


def _registered_data(artifact: Artifact) -> dict:
    return {"after": {"artifact_name": artifact.artifact_name,
                      "artifact_type": artifact.artifact_type,
                      "state_code": artifact.state_code,
                      "artifact_path": artifact.artifact_path}}


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
#      columns and values `record_event` writes (`event_values`), its project the build's;
#   and the NOTIFY of the event id, as `record_event` sends it.
# The values are the ORM's own: `Artifact(...)` applies defaults and conversions, each field's
# `to_db_value` validates and encodes (auto_now fields take the time there), as
# `Artifact.create` would; tests/services/test_perf_write_artifact.py compares both rows with
# what the ORM path writes.
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


async def _register_on_postgres(actor: Actor, build_id: str, command: RegisterArtifact) -> Artifact:
    actor.require("read")  # what get_build checks on the other path (write implies it anyway)
    build_uuid = parse_uuid(build_id, "build")
    artifact = Artifact(build_id=build_uuid, **command.model_dump())
    fields = Artifact._meta.fields_map
    values = [fields[c].to_db_value(getattr(artifact, c), artifact) for c, _ in _PG_COLUMNS]
    _, event_row = event_values(
        actor, "artifact.registered", target_type="artifact", target_id=artifact.id,
        project_id=None, build_id=build_uuid, data=_registered_data(artifact),
    )
    values += [v for c, v in zip(EVENT_COLUMNS, event_row) if c not in _PG_EVENT_FROM_BUILD]
    db = Artifact._meta.db  # the open transaction's connection if there is one, else the pool
    try:
        _, rows = await db.execute_query(_PG_REGISTER, values)
    except IntegrityError as exc:
        raise await _refusal(exc, build_uuid, build_id, command.artifact_name) from None
    if not rows:
        raise NotFound(f"build '{build_id}' not found")
    if rows[0][0] is None:  # the live name is taken: nothing was written
        raise _duplicate(command.artifact_name,
                         await _live_duplicate(build_uuid, command.artifact_name))
    artifact._saved_in_db = True
    return artifact


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
