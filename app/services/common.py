"""Small helpers shared by the services: ids, time, the event row of every change."""

from __future__ import annotations

import functools
import math
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Required, TypedDict, TypeVar

from tortoise import timezone as tz
from tortoise.exceptions import IntegrityError
from tortoise.fields import Field
from tortoise.validators import MaxLengthValidator
from tortoise.models import Model

from app.services.actor import Actor
from app.services.errors import Conflict, NotFound
from db.models import Event

if TYPE_CHECKING:
    from typing_extensions import Unpack

M = TypeVar("M", bound=Model)


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


class EventWhat(TypedDict, total=False):
    """What a change's event names besides its actor and action (the keywords of
    `event_fields` and `record_event`)."""

    target_type: Required[str]
    target_id: Required[Any]
    project_id: str | None
    build_id: uuid.UUID | None
    reason: str | None
    data: dict[str, Any] | None


_EVENT_WHAT = frozenset(EventWhat.__required_keys__ | EventWhat.__optional_keys__)


def event_fields(actor: Actor, action: str, **what: Unpack[EventWhat]) -> dict[str, Any]:
    """The fields of a change's event row (all but id and created_at): the one definition that
    `record_event` on both databases and the statements that write their event row themselves
    (register artifact) use."""
    if not _EVENT_WHAT.issuperset(what):  # as an explicit signature would refuse them
        unknown = what.keys() - _EVENT_WHAT
        raise TypeError(f"event_fields() got unexpected keyword arguments {sorted(unknown)}")
    return {"actor": actor.name, "action": action, "target_type": what["target_type"],
            "target_id": str(what["target_id"]), "project_id": what.get("project_id"),
            "build_id": what.get("build_id"), "request_id": actor.request_id,
            "reason": what.get("reason"), "data": what.get("data") or {}}


async def record_event(actor: Actor, action: str, **what: Unpack[EventWhat]) -> Event:
    """Write the audit row of a change (`event_fields` names what it takes); call inside the
    change's transaction."""
    fields = event_fields(actor, action, **what)
    db = Event._meta.db
    if db.capabilities.dialect != "postgres":
        return await Event.create(**fields)
    # The row and its NOTIFY in one statement (one round trip): delivered to listeners at
    # commit, in commit order (app.services.live fans it out); the payload is the event id.
    created_at, values = event_db_values(fields)
    _, rows = await db.execute_query(_PG_EVENT, values)
    return saved_instance(Event, {**fields, "created_at": created_at, "id": rows[0][0]})


_EVENT_FIELDS = Event._meta.fields_map


def event_db_values(fields: dict[str, Any]) -> tuple[datetime, list[Any]]:
    """The event's `EVENT_COLUMNS` values as the ORM sends them, without an `Event` instance:
    created_at taken now as the ORM takes an auto_now_add field (`tortoise.timezone.localtime`,
    the configured zone; returned too, in the model's Python form), the others through their
    field's own `to_db_value` (its validators, UUID as text, data as the JSONField's JSON)."""
    now = tz.localtime()
    values = [now]
    append = values.append
    for column, limit, null, to_db_value in _event_plan():
        value = fields[column]
        # A text column whose conversion is proven the identity (`_plain_text_limit`): an
        # exact str within its length, or None where the column allows it, is sent as is.
        if limit is not None and (
                (type(value) is str and len(value) <= limit) or (value is None and null)):
            append(value)
        else:
            append(to_db_value(value, Event))
    # Already in the configured zone: the field's `to_python_value` (astimezone to that zone)
    # would hand back this very object.
    return now, values


@functools.cache  # at first use, after Tortoise.init has finished the fields
def _event_plan() -> tuple[tuple[str, int | float | None, bool, Any], ...]:
    """Per event column but created_at: (column, `_plain_text_limit`, null, to_db_value)."""
    return tuple((c, _plain_text_limit(_EVENT_FIELDS[c]), _EVENT_FIELDS[c].null,
                  _EVENT_FIELDS[c].to_db_value) for c in EVENT_COLUMNS[1:])


def _plain_text_limit(field: Field) -> int | float | None:
    """The longest str a text field sends unchanged, or None when that is not proven: its
    `to_db_value` and `validate` are Field's own (convert a non-`field_type` value, then run
    each validator, skipping them for None on a nullable field), its `field_type` is str and
    its validators are only MaxLengthValidators (which refuse None and longer values). For
    such a field, `to_db_value(v)` is `v` for an exact str of at most that length (nothing to
    convert, every validator passes) and for None when the field is nullable (validators
    skipped); any other value goes through `to_db_value` itself (its conversion, its
    ValidationError)."""
    kind = type(field)
    if (kind.to_db_value is not Field.to_db_value or kind.validate is not Field.validate
            or field.field_type is not str
            or any(type(v) is not MaxLengthValidator for v in field.validators)):
        return None
    return min((v.max_length for v in field.validators), default=math.inf)


def saved_instance(model: type[M], values: dict[str, Any]) -> M:
    """A model instance as `model.create(...)` leaves it after its INSERT, from `values` already
    in their Python form (every field by attribute name; a foreign key by its `<name>_id`):
    the state `Model.__init__` + `save()` set (`_saved_in_db`, not partial, no custom generated
    pk, no pending async default), without their per-field work. Like Tortoise's own
    `_init_from_db` and `construct`, it writes the instance dict directly (Model.__setattr__
    only validates relation objects and pops async defaults: neither applies here)."""
    instance = model.__new__(model)
    state = instance.__dict__  # the same entries, in the same order, without a kwargs copy
    state.update(_SAVED_STATE)
    state["_await_when_save"] = {}
    state.update(values)
    return instance


_SAVED_STATE = {"_partial": False, "_saved_in_db": True, "_custom_generated_pk": False}


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
