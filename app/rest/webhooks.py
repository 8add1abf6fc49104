"""Inbound webhooks (signed with the shared secret) and outbound subscription management."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel

from app.rest.deps import Admin
from app.rest.schemas import Out
from app.services import webhooks
from app.services.orchestration import inbound
from app.services.webhooks import CreateSubscription

router = APIRouter()


async def signed(request: Request) -> None:
    """Inbound webhooks carry an HMAC-SHA256 signature made with BUILDSTATE_WEBHOOK_INBOUND_SECRET."""
    settings = request.app.state.settings
    webhooks.verify_signature(
        settings.webhook_inbound_secret, request.headers, await request.body(),
        tolerance=settings.webhook_tolerance_seconds,
    )


signed.required_scope = "signature"  # type: ignore[attr-defined]
SIGNED = [Depends(signed)]
_SIGNATURE_DOC = {401: {"description": "Missing or wrong signature (webhook-signature headers, "
                               "or X-Hub-Signature-256)"}}


class FailureAccepted(BaseModel):
    build_id: uuid.UUID
    status: str
    failed_state: int | None
    resume_request_id: uuid.UUID | None


class JobUpdateAccepted(BaseModel):
    matched: bool
    resume_request_id: uuid.UUID | None = None
    status: str | None = None


@router.post("/webhooks/build-failure", tags=["Webhooks"], dependencies=SIGNED,
             response_model=FailureAccepted, responses=_SIGNATURE_DOC)
async def build_failure(payload: inbound.BuildFailureWebhook):
    """Record a build failure; a retryable one may file an automatic resume request."""
    outcome = await inbound.record_failure_from_webhook(payload=payload)
    return FailureAccepted(
        build_id=outcome.build.id, status=outcome.build.status,
        failed_state=outcome.build.failed_state,
        resume_request_id=outcome.resume_request.id if outcome.resume_request else None,
    )


@router.post("/webhooks/jenkins", tags=["Webhooks"], dependencies=SIGNED,
             response_model=JobUpdateAccepted, responses=_SIGNATURE_DOC)
async def jenkins(payload: dict[str, Any] = Body(...)):
    """A Jenkins job's progress (Notification plugin format, with RESUME_REQUEST_ID)."""
    return _accepted(await inbound.jenkins_notification(payload))


@router.post("/webhooks/concourse", tags=["Webhooks"], dependencies=SIGNED,
             response_model=JobUpdateAccepted, responses=_SIGNATURE_DOC)
async def concourse(payload: dict[str, Any] = Body(...)):
    """A Concourse build's progress: {build_id, build_name, status, resume_request_id}."""
    return _accepted(await inbound.concourse_notification(payload))


def _accepted(request) -> JobUpdateAccepted:
    if request is None:
        return JobUpdateAccepted(matched=False)
    return JobUpdateAccepted(matched=True, resume_request_id=request.id, status=request.status)


class SubscriptionOut(Out):
    id: uuid.UUID
    name: str
    url: str
    events: list[str]
    project_id: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class CreatedSubscriptionOut(SubscriptionOut):
    secret: str


class AttemptOut(Out):
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int | None
    created_at: datetime


class DeliveryOut(Out):
    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: int
    event_type: str | None
    build_id: uuid.UUID | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempt_log: list[AttemptOut]


@router.post("/webhook-subscriptions", status_code=201, tags=["Webhooks"],
             response_model=CreatedSubscriptionOut)
async def create_subscription(body: CreateSubscription, actor: Admin):
    """Subscribe a URL to events (admin); the signing secret is shown once."""
    created = await webhooks.create_subscription(actor=actor, command=body)
    return CreatedSubscriptionOut(
        **SubscriptionOut.model_validate(created.subscription).model_dump(), secret=created.secret
    )


@router.get("/webhook-subscriptions", tags=["Webhooks"], response_model=list[SubscriptionOut])
async def list_subscriptions(actor: Admin):
    """List webhook subscriptions (admin; secrets are never shown again)."""
    return await webhooks.list_subscriptions(actor=actor)


@router.get("/webhook-subscriptions/{subscription_id}", tags=["Webhooks"],
            response_model=SubscriptionOut)
async def get_subscription(subscription_id: str, actor: Admin):
    """Get a webhook subscription (admin)."""
    return await webhooks.get_subscription(actor=actor, subscription_id=subscription_id)


@router.delete("/webhook-subscriptions/{subscription_id}", tags=["Webhooks"],
               response_model=SubscriptionOut)
async def delete_subscription(subscription_id: str, actor: Admin):
    """Delete a webhook subscription and its delivery log (admin)."""
    return await webhooks.delete_subscription(actor=actor, subscription_id=subscription_id)


@router.get("/webhook-subscriptions/{subscription_id}/deliveries", tags=["Webhooks"],
            response_model=list[DeliveryOut])
async def list_deliveries(
    subscription_id: str, actor: Admin, status: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
):
    """A subscription's deliveries, newest event first, each with its attempts."""
    rows = await webhooks.list_deliveries(
        actor=actor, subscription_id=subscription_id, status=status, limit=limit
    )
    attempts = await webhooks.attempts_by_delivery_ids([r.id for r in rows])
    types = await webhooks.event_types_by_ids([r.event_id for r in rows])
    return [
        DeliveryOut(
            id=r.id, subscription_id=r.subscription_id, event_id=r.event_id,
            event_type=types.get(r.event_id), build_id=r.build_id,
            status=r.status, attempts=r.attempts, next_attempt_at=r.next_attempt_at,
            last_status_code=r.last_status_code, last_error=r.last_error,
            delivered_at=r.delivered_at, created_at=r.created_at,
            attempt_log=[AttemptOut.model_validate(a) for a in attempts[r.id]],
        )
        for r in rows
    ]
