"""The audit trail: events, their pages, and the filter of `auditEvents`."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from app.services import audit
from db import models
from schema.context import Info
from schema.scalars import JSON
from schema.types.connection import PageInfo

MAX_BUILD_EVENTS = 200


@strawberry.type(description="One change, written in the change's own transaction: who, what, when, why.")
class Event:
    id: strawberry.ID = strawberry.field(description="Increasing: later events have larger ids.")
    created_at: datetime
    actor: str = strawberry.field(description="Key name, token subject, or a system actor.")
    action: str = strawberry.field(description="For example build.state_changed, resume.requested.")
    target_type: str
    target_id: str
    project_id: strawberry.ID | None
    build_id: strawberry.ID | None
    request_id: str | None = strawberry.field(description="The request that made the change.")
    reason: str | None = strawberry.field(description="The reason given, when one was.")
    data: JSON = strawberry.field(description="Before/after values; secrets are masked.")

    @classmethod
    def from_model(cls, m: models.Event) -> Event:
        return cls(
            id=strawberry.ID(str(m.id)), created_at=m.created_at, actor=m.actor, action=m.action,
            target_type=m.target_type, target_id=m.target_id,
            project_id=strawberry.ID(m.project_id) if m.project_id else None,
            build_id=strawberry.ID(str(m.build_id)) if m.build_id else None,
            request_id=m.request_id, reason=m.reason, data=m.data or {},
        )


@strawberry.type
class EventEdge:
    node: Event
    cursor: str


@strawberry.type(description="A page of events.")
class EventConnection:
    edges: list[EventEdge]
    page_info: PageInfo


@strawberry.input(description="Every field narrows the result.")
class EventFilter:
    build_id: strawberry.ID | None = None
    project_id: strawberry.ID | None = None
    actor: str | None = None
    action: str | None = strawberry.field(
        default=None, description="An action, or a family such as `resume.*`."
    )
    target_type: str | None = None
    target_id: str | None = None
    request_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def to_service(self) -> audit.EventFilter:
        return audit.EventFilter(
            build_id=str(self.build_id) if self.build_id else None,
            project_id=str(self.project_id) if self.project_id else None,
            actor=self.actor, action=self.action, target_type=self.target_type,
            target_id=self.target_id, request_id=self.request_id, since=self.since, until=self.until,
        )


async def audit_events(
    info: Info, filter: EventFilter | None, first: int, after: str | None, newest_first: bool
) -> EventConnection:
    page = await audit.list_events(
        actor=info.context.principal, filter=(filter or EventFilter()).to_service(),
        first=first, after=after, newest_first=newest_first,
    )
    return EventConnection(
        edges=[EventEdge(node=Event.from_model(e), cursor=audit.encode_cursor(e.id)) for e in page.events],
        page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
    )


async def events_of_build(info: Info, build_id: uuid.UUID, action: str | None, last: int) -> list[Event]:
    """`Build.events`: through the per-request loader (one statement for many builds)."""
    rows = await info.context.loaders.events.load(build_id)
    if action is not None:
        family = action[:-1] if action.endswith(".*") else None
        rows = [e for e in rows if (e.action.startswith(family) if family else e.action == action)]
    return [Event.from_model(e) for e in rows[-max(0, min(last, MAX_BUILD_EVENTS)):]] if last > 0 else []
