"""Outbound webhook subscriptions, their delivery log, and Standard Webhooks signing.

Signing follows https://www.standardwebhooks.com: headers `webhook-id`, `webhook-timestamp`
and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`. A secret of the
form `whsec_<base64>` signs with the decoded bytes; any other secret with its UTF-8 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from tortoise.transactions import in_transaction

from app.services import crypto
from app.services.actor import Actor
from app.services.commands import document_stripping
from app.services.common import parse_uuid, parse_uuids, record_event
from app.services.errors import NotFound, Unauthenticated, ValidationFailed
from db.models import (
    Event,
    Project,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookSubscription,
)

EVENT_TYPES = (
    "build.failed", "build.completed", "build.state_changed", "artifact.registered",
    "resume.requested", "resume.status_changed",
)
ALL_EVENTS = "*"
DELIVERY_STATUSES = ("pending", "delivered", "failed")


# --- signing -----------------------------------------------------------------------------


def generate_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_"):], validate=True)
        except ValueError:
            pass
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def signed_headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id, ts, body),
        "content-type": "application/json",
    }


def verify_signature(
    secret: str | None, headers: Mapping[str, str], body: bytes, *, tolerance: int = 300,
    now: float | None = None,
) -> None:
    """Accept Standard Webhooks headers (timestamped: a replay is refused after `tolerance`
    seconds), or `X-Hub-Signature-256: sha256=<hex HMAC of the body>` for CI plugins that can
    only sign the body (no timestamp, so a captured request can be replayed; the handlers are
    idempotent about job states, and a replayed failure is one more failure entry)."""
    if not secret:
        raise Unauthenticated("inbound webhooks are not configured on this server")
    lower = {k.lower(): v for k, v in headers.items()}
    if "webhook-signature" in lower:
        msg_id, ts = lower.get("webhook-id", ""), lower.get("webhook-timestamp", "")
        if not msg_id or not ts.isdigit():
            raise Unauthenticated("webhook-id and webhook-timestamp headers are required")
        if abs((time.time() if now is None else now) - int(ts)) > tolerance:
            raise Unauthenticated("webhook-timestamp is outside the accepted window")
        expected = sign(secret, msg_id, int(ts), body).split(",", 1)[1]
        for candidate in lower["webhook-signature"].split():
            version, _, value = candidate.partition(",")
            if version == "v1" and hmac.compare_digest(value, expected):
                return
        raise Unauthenticated("webhook signature does not match")
    hub = lower.get("x-hub-signature-256", "")
    if hub.startswith("sha256="):
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(hub[len("sha256="):], expected):
            return
        raise Unauthenticated("webhook signature does not match")
    raise Unauthenticated("a webhook signature is required (webhook-signature or X-Hub-Signature-256)")


# --- subscriptions -------------------------------------------------------------------------


class CreateSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              json_schema_extra=document_stripping)
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=2048)
    events: list[str] = Field(min_length=1, max_length=len(EVENT_TYPES) + 1)
    project_id: str | None = Field(default=None, max_length=100)
    secret: str | None = Field(
        default=None, min_length=16, max_length=512,
        description="Signing secret; generated (and shown once) when omitted",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("events")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [e for e in value if e != ALL_EVENTS and e not in EVENT_TYPES]
        if unknown:
            raise ValueError(
                f"unknown event(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)} or '*'"
            )
        return sorted(set(value))


@dataclass(frozen=True)
class CreatedSubscription:
    subscription: WebhookSubscription
    secret: str  # shown once, stored encrypted


async def create_subscription(*, actor: Actor, command: CreateSubscription) -> CreatedSubscription:
    """Subscribe a URL to events (admin); the signing secret is returned once."""
    actor.require("admin")
    if command.project_id is not None and not await Project.exists(id=command.project_id):
        raise NotFound(f"project '{command.project_id}' not found", field="project_id")
    secret = command.secret or generate_secret()
    async with in_transaction():
        row = await WebhookSubscription.create(
            name=command.name, url=command.url, events=command.events,
            project_id=command.project_id, secret=crypto.encrypt(secret), active=True,
        )
        await record_event(
            actor, "webhook_subscription.created", target_type="webhook_subscription",
            target_id=row.id, project_id=command.project_id,
            data={"after": command.model_dump(exclude={"secret"})},
        )
    return CreatedSubscription(subscription=row, secret=secret)


async def list_subscriptions(*, actor: Actor) -> list[WebhookSubscription]:
    actor.require("admin")
    return await WebhookSubscription.all().order_by("created_at", "id")


async def get_subscription(*, actor: Actor, subscription_id: str) -> WebhookSubscription:
    actor.require("admin")
    row = await WebhookSubscription.get_or_none(id=parse_uuid(subscription_id, "subscription"))
    if row is None:
        raise NotFound(f"webhook subscription '{subscription_id}' not found")
    return row


async def delete_subscription(*, actor: Actor, subscription_id: str) -> WebhookSubscription:
    """Delete a subscription with its delivery log (admin)."""
    row = await get_subscription(actor=actor, subscription_id=subscription_id)
    async with in_transaction():
        await row.delete()
        await record_event(
            actor, "webhook_subscription.deleted", target_type="webhook_subscription",
            target_id=row.id, project_id=row.project_id, data={"url": row.url},
        )
    return row


def subscription_secret(row: WebhookSubscription) -> str:
    return crypto.decrypt(row.secret)


def matches(row: WebhookSubscription, action: str, project_id: str | None) -> bool:
    if not row.active or action not in EVENT_TYPES:
        return False
    if row.project_id is not None and row.project_id != project_id:
        return False
    return ALL_EVENTS in row.events or action in row.events


# --- the delivery log ----------------------------------------------------------------------


async def list_deliveries(
    *, actor: Actor, subscription_id: str, status: str | None = None, limit: int = 100,
) -> list[WebhookDelivery]:
    """A subscription's deliveries, newest event first."""
    row = await get_subscription(actor=actor, subscription_id=subscription_id)
    if status is not None and status not in DELIVERY_STATUSES:
        raise ValidationFailed(
            f"status must be one of {', '.join(DELIVERY_STATUSES)}", field="status"
        )
    query = WebhookDelivery.filter(subscription_id=row.id)
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("-event_id").limit(max(1, min(limit, 1000)))


async def deliveries_by_subscription_ids(
    ids: list[uuid.UUID], limit: int = 100
) -> dict[uuid.UUID, list[WebhookDelivery]]:
    out: dict[uuid.UUID, list[WebhookDelivery]] = {i: [] for i in ids}
    rows = await WebhookDelivery.filter(subscription_id__in=parse_uuids(ids)).order_by("-event_id")
    for row in rows:
        bucket = out.setdefault(row.subscription_id, [])
        if len(bucket) < limit:
            bucket.append(row)
    return out


async def event_types_by_ids(ids: list[int]) -> dict[int, str]:
    """The action (event type) of each event a delivery carries."""
    rows = await Event.filter(id__in=list(set(ids))).values_list("id", "action")
    return dict(rows)


async def attempts_by_delivery_ids(
    ids: list[uuid.UUID],
) -> dict[uuid.UUID, list[WebhookDeliveryAttempt]]:
    out: dict[uuid.UUID, list[WebhookDeliveryAttempt]] = {i: [] for i in ids}
    rows = await WebhookDeliveryAttempt.filter(delivery_id__in=parse_uuids(ids)).order_by(
        "attempt", "created_at"
    )
    for row in rows:
        out.setdefault(row.delivery_id, []).append(row)
    return out
