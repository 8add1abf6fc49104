"""Claim pending resume requests and trigger each one's CI job exactly once.

The protocol, per request:
1. Claim with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL): one worker at a time owns it.
2. If an earlier attempt exists, ask the CI whether a job carrying RESUME_REQUEST_ID is already
   there (a worker may have died mid-trigger, or a timeout hidden a success); adopt it if so.
3. Write a TriggerAttempt `sending` and COMMIT, then call the CI. A worker killed after the
   commit leaves `sending` behind; whoever takes the request over does step 2 first.
4. Record the outcome: `triggered` with the job linked, or a retry at `next_attempt_at`, or
   `failed` with the error once the attempts are used up.
The CI call itself is bounded well inside the lease, so a lease only expires on a dead worker.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from app.services import jobs
from app.services.commands import LinkJob, UpdateResumeRequest
from app.services.common import utcnow
from app.services.orchestration.backoff import retry_delay
from app.services.orchestration.follow import apply_job_state, job_status
from app.services.orchestration.platforms import (
    QUEUED,
    ConfigError,
    JobRef,
    Target,
    TriggerError,
    TriggerParams,
    resolve_target,
)
from app.services.orchestration.runtime import Runtime
from app.services.resume import update_resume_request
from db.models import Build, BuildJob, Project, ResumeRequest, TriggerAttempt

log = logging.getLogger("buildstate.orchestrator")
MANUAL = "manual"


async def claim_pending(rt: Runtime, limit: int) -> list[uuid.UUID]:
    """Lease up to `limit` due pending requests to this worker."""
    now = utcnow()
    until = now + rt.lease
    async with in_transaction():
        rows = await (
            ResumeRequest.filter(status="pending")
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
            .filter(Q(orchestration_status__isnull=True) | ~Q(orchestration_status=MANUAL))
            .order_by("created_at", "id")
            .limit(limit)
            .select_for_update(skip_locked=True)
        )
        ids = [r.id for r in rows]
        if ids:
            await ResumeRequest.filter(id__in=ids, status="pending").filter(
                Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
            ).update(lease_owner=rt.worker, lease_expires_at=until)
    if not ids:
        return []
    return list(await ResumeRequest.filter(id__in=ids, lease_owner=rt.worker).values_list(
        "id", flat=True
    ))


async def release_leases(worker: str) -> int:
    """Give back what `worker` holds (clean shutdown); nothing is lost either way."""
    return await ResumeRequest.filter(lease_owner=worker).update(
        lease_owner=None, lease_expires_at=None
    )


async def _owned(rt: Runtime, request_id: uuid.UUID) -> ResumeRequest | None:
    request = await ResumeRequest.select_for_update().get_or_none(id=request_id)
    if request is None or request.status != "pending" or request.lease_owner != rt.worker:
        return None
    return request


async def trigger_request(rt: Runtime, request_id: uuid.UUID) -> str:
    """Drive one claimed request; returns the outcome (triggered, adopted, retry, failed…)."""
    async with in_transaction():
        request = await _owned(rt, request_id)
        if request is None:
            return "lost"
        build = await Build.get(id=request.build_id)
        project = await Project.get(id=build.project_id)
        try:
            target = resolve_target(request, build, project, rt.settings)
        except ConfigError as exc:
            await _give_up(rt, request, f"cannot trigger: {exc.message}")
            return "failed"
        if target is None:
            await ResumeRequest.filter(id=request.id).update(
                orchestration_status=MANUAL, lease_owner=None, lease_expires_at=None,
                version=F("version") + 1,
            )
            return MANUAL
        last = await TriggerAttempt.filter(resume_request_id=request.id).order_by("-attempt").first()
        await ResumeRequest.filter(id=request.id).update(lease_expires_at=utcnow() + rt.lease)
    params = TriggerParams(
        build_id=str(request.build_id), resume_from_state=request.resume_from_state,
        resume_request_id=str(request.id), resume_to_state=request.resume_to_state,
    )
    platform = rt.platform(target.platform)

    if last is not None and platform.can_find:
        try:
            found = await asyncio.wait_for(platform.find(target, params), _budget(rt))
        except (TriggerError, asyncio.TimeoutError) as exc:
            message = getattr(exc, "message", None) or "the CI did not answer in time"
            return await _failed_lookup(rt, request_id, target, last, message)
        if found is not None:
            return await _succeed(rt, request_id, target, last.id, found, adopted=True)

    await rt.limiter.acquire(target.platform)  # type: ignore[union-attr]

    async with in_transaction():
        request = await _owned(rt, request_id)
        if request is None:
            return "lost"
        if last is not None and last.status == "sending":
            await _finish_attempt(last.id, "failed", error=(
                "the worker stopped mid-trigger; the CI had no job for it" if platform.can_find
                else "the worker stopped mid-trigger; sent again with the same webhook-id"
            ))
        number = (last.attempt if last else 0) + 1
        try:
            async with in_transaction():  # a savepoint: the unique (request, attempt) guard
                attempt = await TriggerAttempt.create(
                    resume_request_id=request.id, attempt=number, platform=target.platform,
                    worker=rt.worker, status="sending",
                    response={"target": _target_json(target)},
                )
        except IntegrityError:
            return "lost"
        await ResumeRequest.filter(id=request.id).update(
            attempts=number, lease_expires_at=utcnow() + rt.lease,
            orchestration_status="triggering", version=F("version") + 1,
        )
    # Committed: from here on a crash leaves `sending`, which the next owner checks first.
    try:
        ref = await asyncio.wait_for(platform.trigger(target, params), _budget(rt))
    except (TriggerError, asyncio.TimeoutError) as exc:
        retryable = getattr(exc, "retryable", True)
        message = getattr(exc, "message", None) or "the CI did not answer in time"
        return await _failed_attempt(rt, request_id, attempt.id, number, message, retryable)
    return await _succeed(rt, request_id, target, attempt.id, ref, adopted=False)


def _budget(rt: Runtime) -> float:
    """The longest a CI conversation may take: well inside the lease."""
    return max(1.0, min(rt.settings.trigger_timeout_seconds * 4,
                        rt.settings.orchestrator_lease_seconds / 2))


def _target_json(target: Target) -> dict[str, str | None]:
    return {"platform": target.platform, "pipeline": target.pipeline, "job": target.job}


async def _finish_attempt(
    attempt_id: uuid.UUID, status: str, *, error: str | None = None, response: dict | None = None
) -> None:
    fields = {"status": status, "error": error, "finished_at": utcnow()}
    if response is not None:
        fields["response"] = response
    await TriggerAttempt.filter(id=attempt_id).update(**fields)


async def _succeed(
    rt: Runtime, request_id: uuid.UUID, target: Target, attempt_id: uuid.UUID, ref: JobRef,
    *, adopted: bool,
) -> str:
    async with in_transaction():
        request = await ResumeRequest.select_for_update().get(id=request_id)
        await _finish_attempt(attempt_id, "succeeded", response={
            "target": _target_json(target), "job": ref.as_json(), "adopted": adopted,
        })
        if request.status != "pending":
            return "lost"  # cancelled meanwhile, or another worker already recorded it
        await update_resume_request(
            actor=rt.actor, request_id=str(request.id),
            command=UpdateResumeRequest(
                status="triggered", orchestration_job_id=ref.job_id,
                orchestration_job_url=ref.job_url, orchestration_status=ref.state,
                error_message=None,
            ),
        )
        polled = rt.platform(target.platform).can_poll
        await ResumeRequest.filter(id=request.id).update(
            lease_owner=None, lease_expires_at=None,
            next_attempt_at=(utcnow() + timedelta(seconds=rt.settings.job_poll_seconds)
                             if polled else None),
        )
        parent = await BuildJob.filter(build_id=request.build_id).order_by("-created_at").first()
        await jobs.link_job(actor=rt.actor, build_id=str(request.build_id), command=LinkJob(
            platform=target.platform, pipeline_name=target.pipeline, job_name=target.job,
            job_url=ref.job_url, job_id=ref.job_id, build_number=ref.build_number,
            triggered_by=rt.worker[:255], trigger_source="resume", status=job_status(ref.state),
            is_resume_job=True, resumed_from_state=request.resume_from_state,
            parent_job_id=str(parent.id) if parent else None, resume_request_id=str(request.id),
        ))
        if ref.state != QUEUED:
            await apply_job_state(actor=rt.actor, request_id=request.id, ref=ref)
    log.info("resume request %s %s on %s (job %s)", request_id,
             "adopted" if adopted else "triggered", target.platform, ref.job_id or ref.queue_id)
    return "adopted" if adopted else "triggered"


async def _failed_lookup(
    rt: Runtime, request_id: uuid.UUID, target: Target, last: TriggerAttempt, message: str
) -> str:
    """The CI could not say whether an earlier attempt arrived: do not send again yet."""
    error = f"could not ask {target.platform} whether attempt {last.attempt} arrived: {message}"
    async with in_transaction():
        request = await _owned(rt, request_id)
        if request is None:
            return "lost"
        if last.status == "sending":
            await _finish_attempt(last.id, "failed", error=error)
            number = last.attempt
        else:
            number = last.attempt + 1
            await TriggerAttempt.create(
                resume_request_id=request.id, attempt=number, platform=target.platform,
                worker=rt.worker, status="failed", error=error, finished_at=utcnow(),
                response={"target": _target_json(target), "lookup_only": True},
            )
            await ResumeRequest.filter(id=request.id).update(attempts=number)
        return await _retry_or_fail(rt, request, number, error, retryable=True)


async def _failed_attempt(
    rt: Runtime, request_id: uuid.UUID, attempt_id: uuid.UUID, number: int, error: str,
    retryable: bool,
) -> str:
    async with in_transaction():
        await _finish_attempt(attempt_id, "failed", error=error)
        request = await _owned(rt, request_id)
        if request is None:
            return "lost"
        return await _retry_or_fail(rt, request, number, error, retryable=retryable)


async def _retry_or_fail(
    rt: Runtime, request: ResumeRequest, number: int, error: str, *, retryable: bool
) -> str:
    settings = rt.settings
    if not retryable or number >= settings.trigger_max_attempts:
        await _give_up(rt, request, f"trigger failed after {number} attempt(s): {error}")
        return "failed"
    delay = retry_delay(number, settings.trigger_retry_delays, settings.retry_jitter)
    await ResumeRequest.filter(id=request.id).update(
        lease_owner=None, lease_expires_at=None,
        next_attempt_at=utcnow() + timedelta(seconds=delay),
        orchestration_status="retry_wait", error_message=error, version=F("version") + 1,
    )
    log.warning("resume request %s attempt %d failed (retry in %.1fs): %s",
                request.id, number, delay, error)
    return "retry"


async def _give_up(rt: Runtime, request: ResumeRequest, error: str) -> None:
    await update_resume_request(
        actor=rt.actor, request_id=str(request.id),
        command=UpdateResumeRequest(status="failed", error_message=error,
                                    orchestration_status="trigger_failed"),
    )
    await ResumeRequest.filter(id=request.id).update(lease_owner=None, lease_expires_at=None)
    log.error("resume request %s failed: %s", request.id, error)
