"""Resume context and resume requests (seed: Resume Operations)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from app.rest.deps import ExpectedVersion, Reader, Writer
from app.rest.schemas import (
    ArtifactOut,
    ResumableStateOut,
    ResumeContextOut,
    ResumeRequestOut,
    TriggerAttemptOut,
)
from app.services import context, resume
from app.services.commands import RequestResume, ResumeStatus, UpdateResumeRequest

router = APIRouter(tags=["Resume"])


@router.get("/builds/{build_id}/resume-context", response_model=ResumeContextOut)
async def resume_context(
    build_id: str, actor: Reader,
    reveal: bool = Query(False, description="Admin only, audited: sensitive values in clear"),
):
    """Everything needed to resume the build, in one answer."""
    ctx = await context.get_resume_context(actor=actor, build_id=build_id, reveal=reveal)
    return resume_context_response(ctx)


def resume_context_response(ctx: context.ResumeContext) -> Response:
    """The answer of this route (app/rest/fast.py serves it too, without FastAPI)."""
    payload = resume_context_json(ctx)
    try:
        body = orjson.dumps(payload, option=orjson.OPT_UTC_Z)
    except TypeError:  # what orjson refuses (an integer beyond 64 bits): pydantic writes it
        body = ResumeContextOut.model_validate(payload).model_dump_json().encode()
    return Response(body, media_type="application/json")


# The hottest read answers without a second pass through pydantic, nor a dict per record: the
# service's records already hold the declared types, in the declared order, and orjson writes a
# (non-slots) dataclass from its __dict__ as it writes a dict. tests/rest/test_perf_rest_read.py
# pins that this JSON equals what `ResumeContextOut` would produce (orjson's OPT_UTC_Z writes
# datetimes as pydantic does, UUIDs are strings in both).
assert [f.name for f in fields(context.ArtifactRecord)] == list(ArtifactOut.model_fields)
assert [f.name for f in fields(context.ResumableStateRecord)] == list(
    ResumableStateOut.model_fields)


def resume_context_json(ctx: context.ResumeContext) -> dict[str, Any]:
    """The answer as orjson writes it: the records themselves stand for `ArtifactOut` and
    `ResumableStateOut` (pydantic reads them by attribute when it has to write the answer)."""
    return {
        "build_id": ctx.build_id,
        "current_state": ctx.current_state,
        "last_successful_state": ctx.last_successful_state,
        "failed_state": ctx.failed_state,
        "resume_from_state": ctx.resume_from_state,
        "artifacts": ctx.artifacts,
        "variables": ctx.variables,
        "resumable_state_config": ctx.resumable_state_config,
        "missing_artifacts": ctx.missing_artifacts,
        "missing_variables": ctx.missing_variables,
        "can_resume": ctx.can_resume,
        "blockers": ctx.blockers,
    }


@router.post("/builds/{build_id}/resume", status_code=201, response_model=ResumeRequestOut)
async def request_resume(build_id: str, body: RequestResume, actor: Writer):
    """Request a resume; 422 lists what is missing, 409 names an open request."""
    row = await resume.request_resume(actor=actor, build_id=build_id, command=body)
    return ResumeRequestOut.of(row)


@router.get("/builds/{build_id}/resume-requests", response_model=list[ResumeRequestOut])
async def list_resume_requests(build_id: str, actor: Reader, status: ResumeStatus | None = None):
    """List the build's resume requests, oldest first."""
    rows = await resume.list_resume_requests(
        actor=actor, build_id=build_id, status=status.value if status else None
    )
    return [ResumeRequestOut.of(r) for r in rows]


@router.get("/resume-requests/{request_id}", response_model=ResumeRequestOut)
async def get_resume_request(request_id: str, actor: Reader):
    """Get a resume request."""
    return ResumeRequestOut.of(await resume.get_resume_request(actor=actor, request_id=request_id))


@router.get("/resume-requests/{request_id}/trigger-attempts",
            response_model=list[TriggerAttemptOut])
async def list_trigger_attempts(request_id: str, actor: Reader):
    """Every try of the orchestrator to start the request's CI job, oldest first."""
    rows = await resume.list_trigger_attempts(actor=actor, request_id=request_id)
    return [TriggerAttemptOut.model_validate(r) for r in rows]


@router.patch("/resume-requests/{request_id}", response_model=ResumeRequestOut)
async def update_resume_request(
    request_id: str, body: UpdateResumeRequest, actor: Writer, version: ExpectedVersion
):
    """Move a resume request along its status machine (409 for any other move)."""
    row = await resume.update_resume_request(
        actor=actor, request_id=request_id, command=body, expected_version=version
    )
    return ResumeRequestOut.of(row)
