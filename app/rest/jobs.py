"""CI/CD jobs of a build (seed: Build Jobs)."""

from __future__ import annotations

from fastapi import APIRouter

from app.rest.deps import ExpectedVersion, Reader, Writer
from app.rest.schemas import JobOut
from app.services import jobs
from app.services.commands import LinkJob, UpdateJob

router = APIRouter(tags=["Build Jobs"])


@router.post("/builds/{build_id}/jobs", status_code=201, response_model=JobOut)
async def link_job(build_id: str, body: LinkJob, actor: Writer):
    """Link a CI/CD job to the build."""
    return await jobs.link_job(actor=actor, build_id=build_id, command=body)


@router.get("/builds/{build_id}/jobs", response_model=list[JobOut])
async def list_jobs(build_id: str, actor: Reader):
    """List the build's jobs."""
    return await jobs.list_jobs(actor=actor, build_id=build_id)


@router.patch("/builds/{build_id}/jobs/{job_id}", response_model=JobOut)
async def update_job(
    build_id: str, job_id: str, body: UpdateJob, actor: Writer, version: ExpectedVersion
):
    """Update a job's status."""
    return await jobs.update_job(
        actor=actor, build_id=build_id, job_id=job_id, command=body, expected_version=version
    )
