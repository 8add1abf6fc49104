"""The outbox side of webhooks: turn committed events into deliveries, and deliver them.

The event table is the outbox: every service writes its event in the transaction of the
change. The sender tails it with a cursor (WorkerCursor). PostgreSQL can commit event ids out
of order, so the cursor only moves over a contiguous run of ids; a hole is waited for
`event_gap_seconds` (a transaction still committing) and then passed (a rolled-back one).
On PostgreSQL a hole is passed sooner when no transaction that could still fill it is open:
its id was taken before the hole was first seen, so only a transaction that started before
that moment can commit it; once none is left (rolled back, or killed by a database restart),
waiting longer cannot fill it.
Deliveries are only created behind the cursor, so no earlier event of a build can appear after
a later one was sent; and only the oldest undelivered event of a (subscription, build) is ever
sent, so each receiver sees a build's events in order, however long it was down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from tortoise.expressions import Q
from tortoise.functions import Min
from tortoise.transactions import in_transaction

from app.services.common import utcnow
from app.services.orchestration.backoff import retry_delay
from app.services.webhooks import matches, signed_headers, subscription_secret
from app.settings import Settings
from db.models import Event, WebhookDelivery, WebhookDeliveryAttempt, WebhookSubscription, WorkerCursor

log = logging.getLogger("buildstate.webhooks")

# Sessions of this database, other than ours, in a transaction that began at or before $1;
# and sessions whose activity this role may not read (then nothing is concluded).
_OPEN_BEFORE = """
SELECT count(*) FILTER (WHERE xact_start IS NOT NULL AND xact_start <= $1) AS open,
       count(*) FILTER (WHERE query = '<insufficient privilege>') AS hidden
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND backend_type = 'client backend'
"""
CURSOR = "webhook-sender"


def event_payload(event: Event) -> dict:
    return {
        "id": f"evt_{event.id}",
        "type": event.action,
        "timestamp": event.created_at.isoformat(),
        "data": {
            "event_id": event.id, "project_id": event.project_id,
            "build_id": str(event.build_id) if event.build_id else None,
            "target_type": event.target_type, "target_id": event.target_id,
            "actor": event.actor, "reason": event.reason, "details": event.data,
        },
    }


@dataclass
class Sender:
    settings: Settings
    http: httpx.AsyncClient
    worker: str
    batch: int = 500
    _gaps: dict[int, float] = field(default_factory=dict)  # first missing id -> first seen
    # first missing id -> the database's clock when the hole was first seen (PostgreSQL only)
    _gap_clock: dict[int, datetime] = field(default_factory=dict)

    async def fan_out(self) -> int:
        """Create deliveries for the next contiguous run of events; returns how many."""
        async with in_transaction():
            cursor = await WorkerCursor.select_for_update().get_or_none(name=CURSOR)
            if cursor is None:
                await WorkerCursor.get_or_create(name=CURSOR, defaults={"position": 0})
                cursor = await WorkerCursor.select_for_update().get(name=CURSOR)
            events = await Event.filter(id__gt=cursor.position).order_by("id").limit(self.batch)
            taken: list[Event] = []
            expected = cursor.position + 1
            now = time.monotonic()
            for event in events:
                if event.id != expected and not await self._gap_passed(
                        range(expected, event.id), now):
                    break
                taken.append(event)
                expected = event.id + 1
            if not taken:
                return 0
            created = await self._deliveries_for(taken)
            cursor.position = taken[-1].id
            await cursor.save()
        for stale in [i for i in self._gaps if i <= taken[-1].id]:
            self._gaps.pop(stale, None)
            self._gap_clock.pop(stale, None)
        return created

    async def _gap_passed(self, ids: range, now: float) -> bool:
        if self.settings.event_gap_seconds <= 0:
            return True
        first_seen = self._gaps.setdefault(ids.start, now)
        if now - first_seen >= self.settings.event_gap_seconds:
            return True
        if Event._meta.db.capabilities.dialect != "postgres":
            return False
        db = Event._meta.db
        seen_at = self._gap_clock.get(ids.start)
        if seen_at is None:  # after the read that found the hole, so after its id was taken
            self._gap_clock[ids.start] = (await db.execute_query_dict(
                "SELECT clock_timestamp() AS t"))[0]["t"]
            return False
        row = (await db.execute_query_dict(_OPEN_BEFORE, [seen_at]))[0]
        if row["hidden"] or row["open"]:
            return False  # a session we cannot see, or one that may still commit the ids
        log.info("event ids %d-%d passed: no transaction that could commit them is open",
                 ids.start, ids.stop - 1)
        return True

    async def _deliveries_for(self, events: list[Event]) -> int:
        subscriptions = await WebhookSubscription.filter(active=True)
        rows = [
            WebhookDelivery(subscription_id=s.id, event_id=e.id, build_id=e.build_id,
                            status="pending", attempts=0)
            for e in events for s in subscriptions
            if matches(s, e.action, e.project_id) and s.created_at <= e.created_at
        ]
        if rows:
            await WebhookDelivery.bulk_create(rows)
        return len(rows)

    async def claim(self, limit: int) -> list[WebhookDelivery]:
        """Lease due deliveries that are the oldest pending one of their (subscription, build)."""
        now = utcnow()
        heads = await (
            WebhookDelivery.filter(status="pending")
            .annotate(first=Min("event_id"))
            .group_by("subscription_id", "build_id")
            .values("subscription_id", "build_id", "first")
        )
        if not heads:
            return []
        wanted = {(h["subscription_id"], h["first"]) for h in heads}
        candidates = await (
            WebhookDelivery.filter(status="pending", event_id__in={h["first"] for h in heads})
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
            .order_by("event_id").limit(limit * 4)
        )
        until = now + timedelta(seconds=self.settings.webhook_timeout_seconds * 3 + 30)
        claimed: list[WebhookDelivery] = []
        for row in candidates:
            if (row.subscription_id, row.event_id) not in wanted or len(claimed) >= limit:
                continue
            won = await WebhookDelivery.filter(id=row.id, status="pending").filter(
                Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
            ).update(lease_owner=self.worker, lease_expires_at=until)
            if won:
                claimed.append(row)
        return claimed

    async def deliver(self, delivery: WebhookDelivery) -> bool:
        """One attempt: POST the signed event; log it; schedule a retry or finish."""
        subscription = await WebhookSubscription.get_or_none(id=delivery.subscription_id)
        event = await Event.get_or_none(id=delivery.event_id)
        if subscription is None or event is None or not subscription.active:
            await WebhookDelivery.filter(id=delivery.id, status="pending").update(
                status="failed", last_error="the subscription is inactive", lease_owner=None,
                lease_expires_at=None,
            )
            return False
        body = json.dumps(event_payload(event), separators=(",", ":"), default=str).encode()
        status_code: int | None = None
        error: str | None = None
        started = time.monotonic()
        try:
            headers = signed_headers(subscription_secret(subscription), f"evt_{event.id}", body)
            response = await self.http.post(
                subscription.url, content=body, headers=headers,
                timeout=self.settings.webhook_timeout_seconds,
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}: {response.text[:200]}"
        except (httpx.HTTPError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration = int((time.monotonic() - started) * 1000)
        await self._record(delivery.id, status_code, error, duration)
        return error is None

    async def _record(
        self, delivery_id: uuid.UUID, status_code: int | None, error: str | None, duration: int
    ) -> None:
        settings = self.settings
        async with in_transaction():
            row = await WebhookDelivery.select_for_update().get_or_none(id=delivery_id)
            if row is None:
                return  # its subscription was deleted meanwhile
            row.attempts += 1
            await WebhookDeliveryAttempt.create(
                delivery_id=row.id, attempt=row.attempts, status_code=status_code, error=error,
                duration_ms=duration,
            )
            row.last_status_code = status_code
            row.last_error = error
            row.lease_owner = None
            row.lease_expires_at = None
            if error is None:
                row.status = "delivered"
                row.delivered_at = utcnow()
            elif row.attempts >= settings.webhook_max_attempts:
                row.status = "failed"
                log.error("webhook delivery %s given up after %d attempts: %s",
                          row.id, row.attempts, error)
            else:
                delay = retry_delay(row.attempts, settings.webhook_retry_delays,
                                    settings.retry_jitter, double_past_end=False)
                row.next_attempt_at = utcnow() + timedelta(seconds=delay)
            await row.save()

    async def step(self, concurrency: int = 8) -> int:
        """Fan out, then deliver what is due; returns how many deliveries were attempted."""
        await self.fan_out()
        claimed = await self.claim(concurrency * 4)
        if not claimed:
            return 0
        gate = asyncio.Semaphore(concurrency)

        async def one(row: WebhookDelivery) -> None:
            async with gate:
                await self.deliver(row)

        await asyncio.gather(*(one(r) for r in claimed))
        return len(claimed)

    async def release(self) -> int:
        return await WebhookDelivery.filter(lease_owner=self.worker, status="pending").update(
            lease_owner=None, lease_expires_at=None
        )
