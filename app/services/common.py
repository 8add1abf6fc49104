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
        event = Event(
            actor=actor.name, action=action, target_type=target_type, target_id=str(target_id),
            project_id=project_id, build_id=build_id, request_id=actor.request_id,
            reason=reason, data=data or {},
        )
        fields = Event._meta.fields_map
        _, rows = await db.execute_query(
            _PG_EVENT, [fields[c].to_db_value(getattr(event, c), event) for c in _EVENT_COLUMNS]
        )
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


_EVENT_COLUMNS = ("created_at", "actor", "action", "target_type", "target_id", "project_id",
                  "build_id", "request_id", "reason", "data")
_PG_EVENT = (
    'WITH e AS (INSERT INTO "events" (' + ", ".join(f'"{c}"' for c in _EVENT_COLUMNS)
    + ") VALUES (" + ", ".join(f"${i}" for i in range(1, len(_EVENT_COLUMNS) + 1))
    + ') RETURNING "id") SELECT "id", pg_notify(\'buildstate_events\', "id"::text) FROM e'
)


def conflict_from_integrity(exc: IntegrityError, message: str, **details: Any) -> Conflict:
    return Conflict(message, **details)
