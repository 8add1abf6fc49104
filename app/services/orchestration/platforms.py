"""What every CI platform client offers the orchestrator, and how a request chooses one.

A request's `orchestration_config` only *selects* names (platform, pipeline, job). Base URLs
and credentials come from settings, so a request body can never point the orchestrator at an
arbitrary server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from app.services.commands import ORCHESTRATION_PLATFORMS, SAFE_NAME_PATTERN
from app.settings import Settings
from db.models import Build, Project, ResumeRequest

PLATFORMS = ORCHESTRATION_PLATFORMS
_SEGMENT = re.compile(SAFE_NAME_PATTERN)

# Job states every platform is mapped to (the BuildJob vocabulary plus `queued`).
QUEUED, RUNNING, SUCCESS, FAILED, ABORTED = "queued", "running", "success", "failed", "aborted"
FINISHED = {SUCCESS, FAILED, ABORTED}


class TriggerError(Exception):
    """A trigger or a status question the CI did not answer. `retryable` = worth trying again."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class ConfigError(TriggerError):
    """The request names a platform or job that cannot be used; retrying will not help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True)
class Target:
    platform: str
    pipeline: str
    job: str | None


@dataclass(frozen=True)
class TriggerParams:
    """The values passed to the CI job; RESUME_REQUEST_ID makes the trigger findable later."""

    build_id: str
    resume_from_state: int
    resume_request_id: str
    resume_to_state: int | None = None

    def as_dict(self) -> dict[str, str]:
        out = {
            "BUILD_ID": self.build_id,
            "RESUME_MODE": "true",
            "RESUME_FROM_STATE": str(self.resume_from_state),
            "RESUME_REQUEST_ID": self.resume_request_id,
        }
        if self.resume_to_state is not None:
            out["RESUME_TO_STATE"] = str(self.resume_to_state)
        return out


@dataclass
class JobRef:
    """Where a triggered job is, as far as the CI has told us."""

    state: str = QUEUED
    job_id: str | None = None
    job_url: str | None = None
    build_number: str | None = None
    queue_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state, "job_id": self.job_id, "job_url": self.job_url,
            "build_number": self.build_number, "queue_id": self.queue_id, **self.detail,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobRef:
        known = {"state", "job_id", "job_url", "build_number", "queue_id"}
        return cls(
            state=data.get("state") or QUEUED, job_id=data.get("job_id"),
            job_url=data.get("job_url"), build_number=data.get("build_number"),
            queue_id=data.get("queue_id"),
            detail={k: v for k, v in data.items() if k not in known},
        )


class Platform(Protocol):
    name: str
    # False when the CI cannot be asked whether a trigger arrived; the trigger must then be
    # idempotent on RESUME_REQUEST_ID instead (the generic webhook).
    can_find: bool
    can_poll: bool  # False: progress only arrives through the state API and inbound webhooks

    async def trigger(self, target: Target, params: TriggerParams) -> JobRef: ...

    async def find(self, target: Target, params: TriggerParams) -> JobRef | None: ...

    async def status(self, target: Target, ref: JobRef) -> JobRef: ...


def safe_segment(value: str, what: str) -> str:
    if not _SEGMENT.match(value) or ".." in value:
        raise ConfigError(
            f"orchestration_config.{what} {value!r} is not a safe name "
            "(letters, digits, '.', '_', '-'; at most 128)"
        )
    return value


def configured_platforms(settings: Settings) -> set[str]:
    out = set()
    if settings.jenkins_url:
        out.add("jenkins")
    if settings.concourse_url:
        out.add("concourse")
    if settings.generic_trigger_url:
        out.add("generic")
    return out


def resolve_target(
    request: ResumeRequest, build: Build, project: Project, settings: Settings
) -> Target | None:
    """The platform and job for a request; None when nobody named one (a person resumes it)."""
    config = request.orchestration_config or {}
    platform = config.get("platform") or project.default_platform or settings.default_platform
    if not platform:
        return None
    platform = str(platform).lower()
    if platform not in PLATFORMS:
        raise ConfigError(
            f"platform {platform!r} is not one the orchestrator triggers ({', '.join(PLATFORMS)})"
        )
    if platform not in configured_platforms(settings):
        raise ConfigError(f"platform {platform!r} is not configured on this server")
    pipeline = safe_segment(str(config.get("pipeline") or project.id), "pipeline")
    job = config.get("job")
    job = safe_segment(str(job), "job") if job else None
    if platform == "concourse" and job is None:
        raise ConfigError("a Concourse trigger needs orchestration_config.job")
    return Target(platform=platform, pipeline=pipeline, job=job)


def make_platform(name: str, settings: Settings, http: httpx.AsyncClient) -> Platform:
    from app.services.orchestration.concourse import Concourse
    from app.services.orchestration.generic import GenericWebhook
    from app.services.orchestration.jenkins import Jenkins

    if name == "jenkins":
        return Jenkins(settings, http)
    if name == "concourse":
        return Concourse(settings, http)
    if name == "generic":
        return GenericWebhook(settings, http)
    raise ConfigError(f"unknown platform {name!r}")


def http_error(exc: Exception, what: str) -> TriggerError:
    """Transport failures and 5xx/429 are worth retrying; other 4xx mean the call is wrong."""
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        retry = code >= 500 or code in (408, 409, 429)
        return TriggerError(f"{what}: HTTP {code} {exc.response.text[:200]}", retryable=retry)
    return TriggerError(f"{what}: {type(exc).__name__}: {exc}", retryable=True)
