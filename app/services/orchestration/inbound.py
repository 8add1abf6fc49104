"""Inbound webhooks, after their signature is checked: a build failure, a CI job's progress."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.services import builds, derived
from app.services.actor import Actor
from app.services.commands import RecordFailure, document_stripping
from app.services.common import parse_uuid, utcnow
from app.services.errors import NotFound
from app.services.orchestration.follow import apply_job_state
from app.services.orchestration.platforms import (
    ABORTED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCESS,
    JobRef,
)
from db.models import Build, ResumeRequest


def webhook_actor(source: str) -> Actor:
    return Actor(name=f"webhook:{source}", scopes=frozenset({"read", "write"}), kind="system")


class BuildFailureWebhook(BaseModel):
    """The design's failure payload: the build (by id, or project + number) and the failure."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True,
                              json_schema_extra=document_stripping)
    build_id: str | None = None
    project_id: str | None = Field(default=None, max_length=100)
    build_number: int | None = Field(default=None, ge=0)
    state_code: int | None = Field(default=None, ge=0, le=1_000_000)
    error_message: str = Field(min_length=1)
    error_code: str | None = Field(default=None, max_length=100)
    retryable: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_a_build(self) -> BuildFailureWebhook:
        if self.build_id is None and (self.project_id is None or self.build_number is None):
            raise ValueError("give build_id, or project_id and build_number")
        return self


@dataclass(frozen=True)
class FailureOutcome:
    build: Build
    resume_request: ResumeRequest | None


async def record_failure_from_webhook(*, payload: BuildFailureWebhook) -> FailureOutcome:
    """Record the failure exactly as `POST /builds/{id}/failure` does (auto-resume included)."""
    if payload.build_id is not None:
        build = await Build.get_or_none(id=parse_uuid(payload.build_id, "build"))
    else:
        build = await Build.get_or_none(
            project_id=payload.project_id, build_number=payload.build_number
        )
    if build is None:
        raise NotFound("the build named by the payload was not found")
    started = utcnow()
    failed = await builds.record_failure(
        actor=webhook_actor("build-failure"), build_id=str(build.id),
        command=RecordFailure(
            state_code=payload.state_code, error_message=payload.error_message,
            error_code=payload.error_code, retryable=payload.retryable,
            metadata=payload.metadata,
        ),
    )
    filed = await ResumeRequest.filter(
        build_id=build.id, request_source="auto", status__in=derived.OPEN_RESUME_STATUSES,
        created_at__gte=started,
    ).first()
    return FailureOutcome(build=failed, resume_request=filed)


_JENKINS = {"SUCCESS": SUCCESS, "FAILURE": FAILED, "UNSTABLE": FAILED, "ABORTED": ABORTED,
            "NOT_BUILT": ABORTED}
_CONCOURSE = {"pending": QUEUED, "started": RUNNING, "succeeded": SUCCESS, "failed": FAILED,
              "errored": FAILED, "aborted": ABORTED}


async def jenkins_notification(payload: dict[str, Any]) -> ResumeRequest | None:
    """A Jenkins Notification-plugin style payload: {name, build: {number, phase, status,
    parameters: {RESUME_REQUEST_ID}}}. None when it is not about a job buildstate started."""
    build = payload.get("build") or {}
    parameters = build.get("parameters") or {}
    request = await _request_by_id(parameters.get("RESUME_REQUEST_ID"))
    if request is None:
        return None
    phase = str(build.get("phase", "")).upper()
    if phase in ("COMPLETED", "FINALIZED"):
        state = _JENKINS.get(str(build.get("status", "")).upper(), FAILED)
    elif phase == "QUEUED":
        state = QUEUED
    else:
        state = RUNNING
    number = build.get("number")
    ref = JobRef(state=state, job_id=str(number) if number is not None else None,
                 build_number=str(number) if number is not None else None)
    return await apply_job_state(actor=webhook_actor("jenkins"), request_id=request.id, ref=ref)


async def concourse_notification(payload: dict[str, Any]) -> ResumeRequest | None:
    """{build_id, build_name, status, resume_request_id?}: a notification resource's message."""
    request = await _request_by_id(
        payload.get("resume_request_id") or (payload.get("params") or {}).get("RESUME_REQUEST_ID")
    )
    build_id = payload.get("build_id")
    if request is None and build_id is not None:
        request = await ResumeRequest.filter(
            orchestration_job_id=str(build_id), status__in=derived.OPEN_RESUME_STATUSES
        ).order_by("-created_at").first()
    if request is None:
        return None
    state = _CONCOURSE.get(str(payload.get("status", "")).lower(), RUNNING)
    ref = JobRef(state=state, job_id=str(build_id) if build_id is not None else None,
                 build_number=_text(payload.get("build_name")))
    return await apply_job_state(actor=webhook_actor("concourse"), request_id=request.id, ref=ref)


async def _request_by_id(value: object) -> ResumeRequest | None:
    if not value:
        return None
    try:
        return await ResumeRequest.get_or_none(id=uuid.UUID(str(value)))
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return None if value is None else str(value)[:100]
