"""Outbound webhook subscriptions and their delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from app.services import webhooks
from app.services.errors import ValidationFailed
from db import models
from schema.context import Info


@strawberry.type(description="An outbound webhook: events POSTed to a URL, signed with its secret "
                 "(Standard Webhooks headers, HMAC-SHA256).")
class WebhookSubscription:
    id: strawberry.ID
    name: str
    url: str
    events: list[str] = strawberry.field(description="Event types, or ['*'] for all of them.")
    project_id: strawberry.ID | None = strawberry.field(description="Only this project's events.")
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, m: models.WebhookSubscription) -> WebhookSubscription:
        return cls(
            id=strawberry.ID(str(m.id)), name=m.name, url=m.url, events=list(m.events or []),
            project_id=strawberry.ID(m.project_id) if m.project_id else None, active=m.active,
            created_at=m.created_at, updated_at=m.updated_at,
        )


@strawberry.type(description="A new subscription, with its signing secret (shown only here).")
class CreatedWebhookSubscription:
    subscription: WebhookSubscription
    secret: str = strawberry.field(description="Verify deliveries with it; it is not shown again.")


@strawberry.type(description="The subscription that was deleted, with its delivery log.")
class WebhookSubscriptionDeleted:
    id: strawberry.ID


@strawberry.type(description="One try to deliver an event.")
class WebhookDeliveryAttempt:
    attempt: int
    status_code: int | None = strawberry.field(description="The receiver's HTTP status, if any.")
    error: str | None
    duration_ms: int | None
    created_at: datetime


@strawberry.type(description="One event for one subscription: retried until delivered or given up.")
class WebhookDelivery:
    id: strawberry.ID
    subscription_id: strawberry.ID
    event_id: strawberry.ID
    event_type: str | None
    build_id: strawberry.ID | None
    status: str = strawberry.field(description="pending, delivered or failed (given up).")
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempt_log: list[WebhookDeliveryAttempt]


async def deliveries_of(rows: list[models.WebhookDelivery]) -> list[WebhookDelivery]:
    """Deliveries with their attempts and event types, in two batched reads."""
    attempts = await webhooks.attempts_by_delivery_ids([r.id for r in rows])
    types = await webhooks.event_types_by_ids([r.event_id for r in rows])
    return [
        WebhookDelivery(
            id=strawberry.ID(str(r.id)), subscription_id=strawberry.ID(str(r.subscription_id)),
            event_id=strawberry.ID(str(r.event_id)), event_type=types.get(r.event_id),
            build_id=_id(r.build_id), status=r.status, attempts=r.attempts,
            next_attempt_at=r.next_attempt_at, last_status_code=r.last_status_code,
            last_error=r.last_error, delivered_at=r.delivered_at, created_at=r.created_at,
            attempt_log=[
                WebhookDeliveryAttempt(attempt=a.attempt, status_code=a.status_code,
                                       error=a.error, duration_ms=a.duration_ms,
                                       created_at=a.created_at)
                for a in attempts[r.id]
            ],
        )
        for r in rows
    ]


def _id(value: uuid.UUID | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


async def resolve_subscriptions(info: Info) -> list[WebhookSubscription]:
    rows = await webhooks.list_subscriptions(actor=info.context.principal)
    return [WebhookSubscription.from_model(r) for r in rows]


async def resolve_deliveries(
    info: Info, subscription_id: strawberry.ID, first: int, status: str | None
) -> list[WebhookDelivery]:
    limit = info.context.settings.graphql_max_page_size
    if not 1 <= first <= limit:
        raise ValidationFailed(f"first must be between 1 and {limit}", field="first")
    rows = await webhooks.list_deliveries(
        actor=info.context.principal, subscription_id=str(subscription_id), status=status,
        limit=first,
    )
    return await deliveries_of(rows)
