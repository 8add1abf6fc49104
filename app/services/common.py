"""Small helpers shared by the services: ids, time, the event row of every change."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from tortoise.exceptions import IntegrityError

from app.services.actor import Actor
from app.services.errors import Conflict, NotFound
from db.models import Event


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_uuid(value: str | uuid.UUID, what: str) -> uuid.UUID:
    """A malformed id names nothing that exists: it is a NOT_FOUND, not a validation error."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        raise NotFound(f"{what} '{value}' not found") from None


def parse_uuids(values: list[str] | list[uuid.UUID]) -> list[uuid.UUID]:
    """Batch form: malformed ids are dropped (they match nothing)."""
    out: list[uuid.UUID] = []
    for value in values:
        try:
            out.append(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
        except (ValueError, AttributeError, TypeError):
            continue
    return out


async def record_event(
    actor: Actor,
    action: str,
    *,
    target_type: str,
    target_id: Any,
    project_id: str | None = None,
    build_id: uuid.UUID | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Write the audit row of a change; call inside the change's transaction."""
    db = Event._meta.db
    if db.capabilities.dialect == "postgres":
        # The row and its NOTIFY in one statement (one round trip): delivered to listeners at
        # commit, in commit order (app.services.live fans it out); the payload is the event id.
        event, values = event_values(
            actor, action, target_type=target_type, target_id=target_id, project_id=project_id,
            build_id=build_id, reason=reason, data=data,
        )
        _, rows = await db.execute_query(_PG_EVENT, values)
        event.id = rows[0][0]
        event._saved_in_db = True
        return event
    event = await Event.create(
        actor=actor.name,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        project_id=project_id,
        build_id=build_id,
        request_id=actor.request_id,
        reason=reason,
        data=data or {},
    )
    return event


def event_values(
    actor: Actor,
    action: str,
    *,
    target_type: str,
    target_id: Any,
    project_id: str | None = None,
    build_id: uuid.UUID | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> tuple[Event, list[Any]]:
    """The event row `record_event` writes on PostgreSQL, unsaved, and its `EVENT_COLUMNS`
    values as the ORM sends them (`to_db_value`: created_at is taken here, data is JSON text).
    Shared with the statements that write their event row themselves (register artifact)."""
    event = Event(
        actor=actor.name, action=action, target_type=target_type, target_id=str(target_id),
        project_id=project_id, build_id=build_id, request_id=actor.request_id,
        reason=reason, data=data or {},
    )
    fields = Event._meta.fields_map
    return event, [fields[c].to_db_value(getattr(event, c), event) for c in EVENT_COLUMNS]


EVENT_COLUMNS = ("created_at", "actor", "action", "target_type", "target_id", "project_id",
                 "build_id", "request_id", "reason", "data")
# Their PostgreSQL types, for statements that SELECT the values (typed placeholders) rather
# than INSERT … VALUES (where the column gives the type).
EVENT_COLUMN_TYPES = {"created_at": "timestamptz", "actor": "varchar", "action": "varchar",
                      "target_type": "varchar", "target_id": "varchar", "project_id": "varchar",
                      "build_id": "uuid", "request_id": "varchar", "reason": "text",
                      "data": "jsonb"}
assert tuple(EVENT_COLUMN_TYPES) == EVENT_COLUMNS
_PG_EVENT = (
    'WITH e AS (INSERT INTO "events" (' + ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
    + ") VALUES (" + ", ".join(f"${i}" for i in range(1, len(EVENT_COLUMNS) + 1))
    + ') RETURNING "id") SELECT "id", pg_notify(\'buildstate_events\', "id"::text) FROM e'
)


def integrity_kind(exc: IntegrityError) -> str:
    """Which constraint refused a write: "unique", "foreign_key" or "other" (NOT NULL, CHECK,
    a trigger's RAISE(ABORT) on SQLite, ...), from the driver's error under Tortoise's."""
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)  # asyncpg
    if sqlstate is not None:
        return {"23505": "unique", "23503": "foreign_key"}.get(sqlstate, "other")
    name = getattr(cause, "sqlite_errorname", "")  # sqlite3 (Python 3.11+)
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
        return "unique"
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return "foreign_key"
    if not name and "UNIQUE constraint failed" in str(cause):
        return "unique"
    return "other"


def conflict_from_integrity(exc: IntegrityError, message: str, **details: Any) -> Conflict:
    return Conflict(message, **details)
