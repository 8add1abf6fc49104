"""createWebhookSubscription, deleteWebhookSubscription (admin)"""

from __future__ import annotations

import strawberry

from app.services import webhooks
from schema.context import Info
from schema.mutations.base import attempt, built_directly, command, given, result_union
from schema.permissions import IsAdmin
from schema.types.errors import NotFoundError, ValidationError
from schema.types.webhook import (
    CreatedWebhookSubscription,
    WebhookSubscription,
    WebhookSubscriptionDeleted,
)


@built_directly
@strawberry.input(description="Where to POST which events.")
class CreateWebhookSubscriptionInput:
    name: str
    url: str = strawberry.field(description="An http:// or https:// URL.")
    events: list[str] = strawberry.field(
        description="build.failed, build.completed, build.state_changed, artifact.registered, "
        "resume.requested, resume.status_changed, or '*' for all."
    )
    project_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Only this project's events."
    )
    secret: str | None = strawberry.field(
        default=strawberry.UNSET, description="Signing secret; generated when omitted."
    )


CreateWebhookSubscriptionResult = result_union(
    "CreateWebhookSubscriptionResult", CreatedWebhookSubscription, NotFoundError, ValidationError
)
DeleteWebhookSubscriptionResult = result_union(
    "DeleteWebhookSubscriptionResult", WebhookSubscriptionDeleted, NotFoundError
)


async def create_webhook_subscription(
    info: Info, input: CreateWebhookSubscriptionInput
) -> CreateWebhookSubscriptionResult:
    async def run() -> CreatedWebhookSubscription:
        created = await webhooks.create_subscription(
            actor=info.context.principal,
            command=command(webhooks.CreateSubscription, given(input)),
        )
        return CreatedWebhookSubscription(
            subscription=WebhookSubscription.from_model(created.subscription),
            secret=created.secret,
        )

    return await attempt(CreateWebhookSubscriptionResult, run)


async def delete_webhook_subscription(
    info: Info, id: strawberry.ID
) -> DeleteWebhookSubscriptionResult:
    async def run() -> WebhookSubscriptionDeleted:
        row = await webhooks.delete_subscription(
            actor=info.context.principal, subscription_id=str(id)
        )
        return WebhookSubscriptionDeleted(id=strawberry.ID(str(row.id)))

    return await attempt(DeleteWebhookSubscriptionResult, run)


create_field = strawberry.mutation(
    resolver=create_webhook_subscription, permission_classes=[IsAdmin],
    description="Subscribe a URL to events (admin); the answer carries the signing secret once.",
)
delete_field = strawberry.mutation(
    resolver=delete_webhook_subscription, permission_classes=[IsAdmin],
    description="Delete a webhook subscription and its delivery log (admin).",
)
