"""CI/CD jobs linked to a build (the original run and every resume run)."""

from __future__ import annotations

import uuid

from tortoise.transactions import in_transaction

from app.services.actor import Actor
from app.services.builds import get_build
from app.services.commands import LinkJob, UpdateJob
from app.services.common import parse_uuid, parse_uuids, record_event, utcnow
from app.services.concurrency import check_version
from app.services.errors import InvalidTransition, NotFound, ValidationFailed
from db.models import BuildJob, ResumeRequest

TERMINAL_JOB = {"success", "failed", "aborted"}


async def link_job(*, actor: Actor, build_id: str, command: LinkJob) -> BuildJob:
    """Link a CI job to a build; a resume job names its request and parent job."""
    actor.require("write")
    build = await get_build(actor=actor, build_id=build_id)
    data = command.model_dump(exclude={"parent_job_id", "resume_request_id"})
    data["trigger_source"] = command.trigger_source.value
    data["status"] = command.status.value
    if command.parent_job_id is not None:
        parent = await BuildJob.get_or_none(
            id=_ref(command.parent_job_id, "parent_job_id"), build_id=build.id
        )
        if parent is None:
            raise ValidationFailed(
                f"parent_job_id '{command.parent_job_id}' is not a job of this build",
                field="parent_job_id",
            )
        data["parent_job_id"] = parent.id
    if command.resume_request_id is not None:
        request = await ResumeRequest.get_or_none(
            id=_ref(command.resume_request_id, "resume_request_id"), build_id=build.id
        )
        if request is None:
            raise ValidationFailed(
                f"resume_request_id '{command.resume_request_id}' is not a request of this build",
                field="resume_request_id",
            )
        data["resume_request_id"] = request.id
        data["is_resume_job"] = True
        if data["resumed_from_state"] is None:
            data["resumed_from_state"] = request.resume_from_state
    if data["status"] == "running" and data["started_at"] is None:
        data["started_at"] = utcnow()
    async with in_transaction():
        job = await BuildJob.create(build_id=build.id, **data)
        await record_event(
            actor, "job.linked", target_type="build_job", target_id=job.id,
            project_id=build.project_id, build_id=build.id,
            data={"after": command.model_dump(mode="json")},
        )
    return job


def _ref(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationFailed(f"{field} must be a UUID", field=field) from None


async def list_jobs(*, actor: Actor, build_id: str) -> list[BuildJob]:
    actor.require("read")
    build = await get_build(actor=actor, build_id=build_id)
    return (await jobs_by_build_ids([build.id]))[build.id]


async def jobs_by_build_ids(ids: list[uuid.UUID]) -> dict[uuid.UUID, list[BuildJob]]:
    out: dict[uuid.UUID, list[BuildJob]] = {i: [] for i in ids}
    for job in await BuildJob.filter(build_id__in=parse_uuids(ids)).order_by("created_at", "id"):
        out.setdefault(job.build_id, []).append(job)
    return out


async def update_job(
    *, actor: Actor, build_id: str, job_id: str, command: UpdateJob,
    expected_version: int | None = None,
) -> BuildJob:
    """Record a job's progress; a finished job (success, failed, aborted) stays finished."""
    actor.require("write")
    build = await get_build(actor=actor, build_id=build_id)
    changes = command.model_dump(exclude_unset=True)
    async with in_transaction():
        job = await BuildJob.select_for_update().get_or_none(
            id=parse_uuid(job_id, "job"), build_id=build.id
        )
        if job is None:
            raise NotFound(f"job '{job_id}' not found in build '{build_id}'")
        check_version(job, expected_version)
        before = {"status": job.status}
        if command.status is not None:
            new = command.status.value
            if job.status in TERMINAL_JOB and new != job.status:
                raise InvalidTransition(
                    f"job is {job.status}; a finished job cannot become {new}", status=job.status
                )
            changes["status"] = new
            now = utcnow()
            if new == "running" and job.started_at is None and "started_at" not in changes:
                changes["started_at"] = now
            if new in TERMINAL_JOB and job.completed_at is None and "completed_at" not in changes:
                changes["completed_at"] = now
        job.update_from_dict(changes)
        job.version += 1
        await job.save()
        await record_event(
            actor, "job.updated", target_type="build_job", target_id=job.id,
            project_id=build.project_id, build_id=build.id,
            data={"before": before, "after": command.model_dump(mode="json", exclude_unset=True)},
        )
    return job
