"""Following a triggered job: polling the CI, inbound status webhooks, stall detection.

Whatever the source (a poll or an inbound webhook), a job's state reaches the request and the
linked build job through `apply_job_state`, so both paths make the same moves:
`triggered → running → completed | failed`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from tortoise.transactions import in_transaction

from app.services import jobs
from app.services.actor import Actor
from app.services.commands import UpdateJob, UpdateResumeRequest
from app.services.common import record_event, utcnow
from app.services.jobs import TERMINAL_JOB
from app.services.orchestration.platforms import (
    ABORTED,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    SUCCESS,
    JobRef,
    Target,
    TriggerError,
)
from app.services.orchestration.runtime import Runtime
from app.services.resume import update_resume_request
from db.models import BuildJob, BuildState, ResumeRequest, TriggerAttempt

log = logging.getLogger("buildstate.orchestrator")
FOLLOWED = ("triggered", "running")
UNFINISHED = (QUEUED, RUNNING)  # orchestration_status values of a job still to be followed
STALL_PREFIX = "stalled: "
_RANK = {"pending": 0, "running": 1, "success": 2, "failed": 2, "aborted": 2}


def job_status(state: str) -> str:
    """Platform-neutral job state → BuildJob.status."""
    return {QUEUED: "pending", RUNNING: "running", SUCCESS: "success", FAILED: "failed",
            ABORTED: "aborted"}.get(state, "pending")


async def apply_job_state(*, actor: Actor, request_id: uuid.UUID, ref: JobRef) -> ResumeRequest:
    """Move the request and its linked build job to what the CI says about the job."""
    async with in_transaction():
        request = await ResumeRequest.select_for_update().get(id=request_id)
        job = await BuildJob.filter(resume_request_id=request.id).order_by("-created_at").first()
        if job is not None:
            await _update_job(actor, job, ref)
        fields = {"orchestration_status": ref.state}
        if request.orchestration_status in FINISHED and ref.state not in FINISHED:
            fields = {}  # a late, stale answer: the job already finished
        if ref.job_id and ref.job_id != request.orchestration_job_id:
            fields["orchestration_job_id"] = ref.job_id
        if ref.job_url and ref.job_url != request.orchestration_job_url:
            fields["orchestration_job_url"] = ref.job_url
        changed = {k: v for k, v in fields.items() if getattr(request, k) != v}
        moves: list[str] = []
        if request.status in FOLLOWED:
            if ref.state == RUNNING and request.status == "triggered":
                moves = ["running"]
            elif ref.state == SUCCESS:
                moves = ["running", "completed"] if request.status == "triggered" else ["completed"]
            elif ref.state in (FAILED, ABORTED):
                moves = ["failed"]
        if not moves and changed and request.status != "pending":
            await update_resume_request(
                actor=actor, request_id=str(request.id), command=UpdateResumeRequest(**changed)
            )
        for status in moves:
            extra = changed if status == moves[0] else {}
            error = f"the CI job ended {ref.state}" if status == "failed" else None
            await update_resume_request(
                actor=actor, request_id=str(request.id),
                command=UpdateResumeRequest(status=status, **extra, **(
                    {"error_message": error} if error else {})),
            )
        return await ResumeRequest.get(id=request.id)


async def _update_job(actor: Actor, job: BuildJob, ref: JobRef) -> None:
    changes: dict[str, str] = {}
    status = job_status(ref.state)
    # Only forward: a late "queued" answer never moves a running job back.
    if job.status not in TERMINAL_JOB and _RANK.get(status, 0) > _RANK.get(job.status, 0):
        changes["status"] = status
    for name in ("job_id", "job_url", "build_number"):
        value = getattr(ref, name)
        if value and value != getattr(job, name):
            changes[name] = value
    if changes:
        await jobs.update_job(
            actor=actor, build_id=str(job.build_id), job_id=str(job.id),
            command=UpdateJob(**changes),
        )


async def claim_followed(rt: Runtime, limit: int) -> list[uuid.UUID]:
    """Requests whose job the orchestrator started, has not seen finish, and should poll now.
    A job is followed to its end even when the build already completed its request."""
    now = utcnow()
    async with in_transaction():
        rows = await (
            ResumeRequest.filter(orchestration_status__in=UNFINISHED, next_attempt_at__lte=now)
            .exclude(status="pending")
            .order_by("next_attempt_at", "id").limit(limit)
            .select_for_update(skip_locked=True)
        )
        ids = [r.id for r in rows]
        if ids:
            await ResumeRequest.filter(id__in=ids).update(
                next_attempt_at=now + timedelta(seconds=rt.settings.job_poll_seconds)
            )
    return ids


async def follow_request(rt: Runtime, request_id: uuid.UUID) -> str | None:
    """Poll the CI once for the job the orchestrator started; returns the job state."""
    request = await ResumeRequest.get_or_none(id=request_id)
    if request is None or request.status == "pending":
        return None
    if request.orchestration_status not in UNFINISHED:
        return request.orchestration_status
    attempt = await TriggerAttempt.filter(
        resume_request_id=request.id, status="succeeded"
    ).order_by("-attempt").first()
    if attempt is None or "target" not in attempt.response:
        return None
    target = Target(**attempt.response["target"])
    ref = JobRef.from_json(attempt.response.get("job") or {})
    if request.orchestration_job_id:
        ref.job_id = request.orchestration_job_id
        if target.platform == "jenkins":
            ref.build_number = request.orchestration_job_id
    try:
        platform = rt.platform(target.platform)
        ref = await asyncio.wait_for(
            platform.status(target, ref), rt.settings.trigger_timeout_seconds * 3
        )
    except (TriggerError, asyncio.TimeoutError) as exc:
        log.warning("polling job of resume request %s: %s", request_id,
                    getattr(exc, "message", "timed out"))
        limit = timedelta(seconds=rt.settings.stall_timeout_seconds)
        if request.completed_at is not None and utcnow() - request.completed_at > limit:
            # The request ended long ago and the CI no longer answers about its job: stop.
            await ResumeRequest.filter(id=request.id).update(next_attempt_at=None)
        return None
    await apply_job_state(actor=rt.actor, request_id=request.id, ref=ref)
    return ref.state


async def detect_stalls(rt: Runtime) -> int:
    """Mark open requests whose build has not changed state for the stall timeout; unmark
    those that moved again. Returns how many were newly marked."""
    now = utcnow()
    timeout = timedelta(seconds=rt.settings.stall_timeout_seconds)
    marked = 0
    rows = await ResumeRequest.filter(status__in=FOLLOWED).order_by("triggered_at").limit(500)
    for row in rows:
        last = await BuildState.filter(build_id=row.build_id).order_by("-created_at").first()
        changes = [t for t in (row.triggered_at, last.created_at if last else None) if t]
        last_change = max(changes) if changes else row.created_at
        if row.stalled_at is None and now - last_change > timeout:
            marked += await _mark(rt, row.id, last_change, now)
        elif row.stalled_at is not None and last_change > row.stalled_at:
            await _unmark(rt, row.id)
    return marked


async def _mark(rt: Runtime, request_id: uuid.UUID, last_change, now) -> int:
    async with in_transaction():
        request = await ResumeRequest.select_for_update(skip_locked=True).get_or_none(
            id=request_id, stalled_at=None, status__in=FOLLOWED
        )
        if request is None:
            return 0
        seconds = int((now - last_change).total_seconds())
        reason = (f"{STALL_PREFIX}no state change for {seconds} s "
                  f"(last at {last_change.isoformat()}; timeout "
                  f"{int(rt.settings.stall_timeout_seconds)} s)")
        request.stalled_at = now
        request.error_message = reason
        request.version += 1
        await request.save(update_fields=["stalled_at", "error_message", "version", "updated_at"])
        build = await request.build
        await record_event(
            rt.actor, "resume.stalled", target_type="resume_request", target_id=request.id,
            project_id=build.project_id, build_id=build.id, reason=reason,
            data={"status": request.status, "last_change": last_change.isoformat()},
        )
    log.warning("resume request %s %s", request_id, reason)
    return 1


async def _unmark(rt: Runtime, request_id: uuid.UUID) -> None:
    async with in_transaction():
        request = await ResumeRequest.select_for_update(skip_locked=True).get_or_none(
            id=request_id
        )
        if request is None or request.stalled_at is None:
            return
        request.stalled_at = None
        if (request.error_message or "").startswith(STALL_PREFIX):
            request.error_message = None
        request.version += 1
        await request.save(update_fields=["stalled_at", "error_message", "version", "updated_at"])
        build = await request.build
        await record_event(
            rt.actor, "resume.unstalled", target_type="resume_request", target_id=request.id,
            project_id=build.project_id, build_id=build.id,
            data={"status": request.status},
        )


__all__ = ["FINISHED", "apply_job_state", "claim_followed", "detect_stalls", "follow_request",
           "job_status"]
