"""Cheap aggregate reads behind the Prometheus collectors (one GROUP BY per family).

They read the tables rather than counting in memory, so every API process reports the same
numbers however many there are, and a worker running elsewhere is counted too.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.functions import Count

from app.services.cleanup import CleanupTotals, cleanup_totals
from db.models import Build, ResumeRequest, TriggerAttempt, WebhookDelivery, WebhookDeliveryAttempt


@dataclass(frozen=True)
class SystemGauges:
    builds_by_status: dict[str, int]
    resume_requests: dict[tuple[str, str], int]  # (status, source) -> count
    resume_success_ratio: float | None
    trigger_attempts: dict[tuple[str, str], int]  # (platform, status) -> count
    webhook_deliveries: dict[str, int]  # status -> count
    webhook_attempts: dict[str, int]  # ok | failed -> count
    cleanup: CleanupTotals


async def _grouped(query, *fields: str) -> dict:
    rows = await query.annotate(n=Count("id")).group_by(*fields).values_list(*fields, "n")
    return {(row[0] if len(fields) == 1 else tuple(row[:-1])): int(row[-1]) for row in rows}


async def system_gauges() -> SystemGauges:
    builds = await _grouped(Build.all(), "status")
    resumes = await _grouped(ResumeRequest.all(), "status", "request_source")
    completed = sum(n for (s, _), n in resumes.items() if s == "completed")
    failed = sum(n for (s, _), n in resumes.items() if s == "failed")
    attempts = await _grouped(TriggerAttempt.all(), "platform", "status")
    deliveries = await _grouped(WebhookDelivery.all(), "status")
    ok = await WebhookDeliveryAttempt.filter(status_code__gte=200, status_code__lt=300).count()
    total = await WebhookDeliveryAttempt.all().count()
    return SystemGauges(
        builds_by_status=builds,
        resume_requests=resumes,
        resume_success_ratio=completed / (completed + failed) if completed + failed else None,
        trigger_attempts=attempts,
        webhook_deliveries=deliveries,
        webhook_attempts={"ok": ok, "failed": total - ok},
        cleanup=await cleanup_totals(),
    )
