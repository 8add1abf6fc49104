"""The audit trail: filtered, keyset-paginated reads of the event log.

Every change writes one `Event` row in its own transaction (app.services.common.record_event);
this module only reads them. Values were masked when the row was written, so nothing here
decrypts or reveals anything.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime

from tortoise.queryset import QuerySet

from app.services.actor import Actor
from app.services.builds import get_build
from app.services.common import parse_uuid, parse_uuids
from app.services.errors import NotFound, ValidationFailed
from db.models import Event

MAX_PAGE = 500
# Key management is an admin's business: other readers do not see those rows.
ADMIN_ONLY_TARGETS = ("api_key",)


@dataclass(frozen=True)
class EventFilter:
    """Every field narrows the result; `action` may end with `.*` to match a family."""

    build_id: str | uuid.UUID | None = None
    project_id: str | None = None
    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    request_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    has_next: bool
    end_cursor: str | None


def encode_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"event:{event_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        kind, _, raw = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "event":
            raise ValueError(kind)
        return int(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("cursor is not one this service issued", field="after") from None


def _visible(actor: Actor, query: QuerySet[Event]) -> QuerySet[Event]:
    if actor.is_admin:
        return query
    return query.exclude(target_type__in=ADMIN_ONLY_TARGETS)


def _filtered(query: QuerySet[Event], f: EventFilter) -> QuerySet[Event]:
    if f.build_id is not None:
        query = query.filter(build_id=parse_uuid(f.build_id, "build"))
    if f.project_id is not None:
        query = query.filter(project_id=f.project_id)
    if f.actor is not None:
        query = query.filter(actor=f.actor)
    if f.action is not None:
        if f.action.endswith(".*"):
            query = query.filter(action__startswith=f.action[:-1])
        else:
            query = query.filter(action=f.action)
    if f.target_type is not None:
        query = query.filter(target_type=f.target_type)
    if f.target_id is not None:
        query = query.filter(target_id=str(f.target_id))
    if f.request_id is not None:
        query = query.filter(request_id=f.request_id)
    if f.since is not None:
        query = query.filter(created_at__gte=f.since)
    if f.until is not None:
        query = query.filter(created_at__lt=f.until)
    return query


async def list_events(
    *,
    actor: Actor,
    filter: EventFilter = EventFilter(),
    first: int = 50,
    after: str | None = None,
    newest_first: bool = False,
) -> EventPage:
    """Events matching the filter, by id (oldest first unless `newest_first`), `first` per page."""
    actor.require("read")
    if not 1 <= first <= MAX_PAGE:
        raise ValidationFailed(f"first must be between 1 and {MAX_PAGE}", field="first")
    try:
        query = _visible(actor, _filtered(Event.all(), filter))
    except NotFound:  # a malformed build id names nothing: an empty page
        return EventPage([], False, None)
    if after:
        position = decode_cursor(after)
        query = query.filter(id__lt=position) if newest_first else query.filter(id__gt=position)
    rows = await query.order_by("-id" if newest_first else "id").limit(first + 1)
    page = rows[:first]
    return EventPage(
        events=page, has_next=len(rows) > first,
        end_cursor=encode_cursor(page[-1].id) if page else None,
    )


async def build_events(
    *, actor: Actor, build_id: str, limit: int = 100, after_id: int | None = None,
    action: str | None = None, actor_name: str | None = None,
) -> list[Event]:
    """A build's events, oldest first; `after_id` continues from a previous page."""
    actor.require("read")
    build = await get_build(actor=actor, build_id=build_id)
    query = _visible(actor, _filtered(
        Event.filter(build_id=build.id), EventFilter(action=action, actor=actor_name)
    ))
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    return await query.order_by("id").limit(limit)


async def events_by_build_ids(
    ids: list[str] | list[uuid.UUID], *, limit_per_build: int = 200, include_admin: bool = False
) -> dict[uuid.UUID, list[Event]]:
    """Batch read for loaders: each build's most recent events, oldest first."""
    keys = parse_uuids(ids)
    out: dict[uuid.UUID, list[Event]] = {k: [] for k in keys}
    if not keys:
        return out
    query = Event.filter(build_id__in=keys)
    if not include_admin:
        query = query.exclude(target_type__in=ADMIN_ONLY_TARGETS)
    for event in await query.order_by("-id"):
        bucket = out.setdefault(event.build_id, [])
        if len(bucket) < limit_per_build:
            bucket.append(event)
    for bucket in out.values():
        bucket.reverse()
    return out


@dataclass(frozen=True)
class ResumeRecord:
    """One answer to "who resumed this build, when, and why"."""

    resume_request_id: str
    requested_at: datetime
    actor: str
    requested_by: str | None
    reason: str | None
    resume_from_state: int | None
    request_source: str | None
    request_id: str | None


async def resume_history(*, actor: Actor, build_id: str) -> list[ResumeRecord]:
    """Who resumed this build, when and why, oldest first (from the event log)."""
    rows = await build_events(actor=actor, build_id=build_id, limit=MAX_PAGE, action="resume.requested")
    return [
        ResumeRecord(
            resume_request_id=e.target_id, requested_at=e.created_at, actor=e.actor,
            requested_by=e.data.get("requested_by"), reason=e.reason,
            resume_from_state=e.data.get("resume_from_state"),
            request_source=e.data.get("request_source"), request_id=e.request_id,
        )
        for e in rows
    ]


async def events_after(position: int, *, limit: int = 1000) -> list[Event]:
    """The raw log after a position, for the live fan-out's replay (no actor: internal)."""
    return await Event.filter(id__gt=position).order_by("id").limit(limit)


async def events_by_ids(ids: list[int]) -> list[Event]:
    """Rows named by notifications, in id order (internal)."""
    if not ids:
        return []
    return await Event.filter(id__in=ids).order_by("id")


async def last_event_id() -> int:
    """Where the log ends now (0 when empty)."""
    row = await Event.all().order_by("-id").first().values_list("id", flat=True)
    return int(row or 0)
