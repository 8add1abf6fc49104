"""CI/CD jobs linked to a build: the original run and every resume run."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from db import models
from schema.enums import JobStatus, TriggerSource


@strawberry.type(description="A CI/CD job (Jenkins, Concourse, GitLab CI…) that ran the build.")
class Job:
    id: strawberry.ID
    build_id: strawberry.Private[uuid.UUID]
    platform: str
    pipeline_name: str | None
    job_name: str | None
    job_url: str | None
    job_id: str | None = strawberry.field(description="The CI's own id of the job.")
    build_number: str | None = strawberry.field(description="The CI's build number of the job.")
    triggered_by: str | None
    trigger_source: TriggerSource
    status: JobStatus
    started_at: datetime | None
    completed_at: datetime | None
    is_resume_job: bool
    resumed_from_state: int | None
    parent_job_id: strawberry.ID | None = strawberry.field(description="The job this one resumes.")
    resume_request_id: strawberry.ID | None = strawberry.field(
        description="The resume request that started it."
    )
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, m: models.BuildJob) -> Job:
        return cls(
            id=strawberry.ID(str(m.id)), build_id=m.build_id, platform=m.platform,
            pipeline_name=m.pipeline_name, job_name=m.job_name, job_url=m.job_url,
            job_id=m.job_id, build_number=m.build_number, triggered_by=m.triggered_by,
            trigger_source=TriggerSource(m.trigger_source), status=JobStatus(m.status),
            started_at=m.started_at, completed_at=m.completed_at, is_resume_job=m.is_resume_job,
            resumed_from_state=m.resumed_from_state,
            parent_job_id=_id(m.parent_job_id), resume_request_id=_id(m.resume_request_id),
            version=m.version, created_at=m.created_at, updated_at=m.updated_at,
        )


def _id(value: uuid.UUID | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))
