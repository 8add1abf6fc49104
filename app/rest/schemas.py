"""Response shapes of the REST shim: the seed's snake_case JSON."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ProjectOut(Out):
    id: str
    name: str
    description: str | None
    auto_resume: bool
    max_auto_resumes: int
    default_platform: str | None
    created_at: datetime
    updated_at: datetime


class StateCodeOut(Out):
    id: uuid.UUID
    project_id: str
    code: int
    name: str
    description: str | None
    is_initial: bool
    is_final: bool
    is_error: bool
    created_at: datetime
    updated_at: datetime


class BuildOut(Out):
    id: uuid.UUID
    project_id: str
    build_number: int
    platform: str | None
    os_version: str | None
    image_type: str | None
    status: str
    current_state: int
    last_successful_state: int | None
    failed_state: int | None
    metadata: dict[str, Any]
    resume_count: int
    version: int
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime


class StateEntryOut(Out):
    id: uuid.UUID
    build_id: uuid.UUID
    state_code: int
    status: str
    message: str | None
    metadata: dict[str, Any]
    error_message: str | None
    error_code: str | None
    retryable: bool | None
    created_at: datetime


class ArtifactOut(Out):
    id: uuid.UUID
    build_id: uuid.UUID
    state_code: int
    artifact_name: str
    artifact_type: str
    artifact_path: str
    storage_backend: str | None
    storage_region: str | None
    storage_bucket: str | None
    storage_key: str | None
    size_bytes: int | None
    checksum: str | None
    checksum_algorithm: str
    is_resumable: bool
    is_final: bool
    expires_at: datetime | None
    metadata: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class VariableOut(Out):
    id: uuid.UUID
    build_id: uuid.UUID
    variable_key: str
    variable_value: str = Field(description='"******" for sensitive values unless revealed')
    variable_type: str
    set_at_state: int | None
    is_sensitive: bool
    is_required_for_resume: bool
    version: int
    created_at: datetime
    updated_at: datetime


class ResumableStateOut(Out):
    id: uuid.UUID
    project_id: str
    state_code: int
    is_resumable: bool
    resume_strategy: str
    required_artifacts: list[str]
    required_variables: list[str]
    resume_command: str | None
    resume_timeout_seconds: int
    description: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


class ResumeRequestOut(Out):
    id: uuid.UUID
    resume_request_id: uuid.UUID = Field(description="The same as `id` (legacy scripts read it)")
    build_id: uuid.UUID
    status: str
    resume_from_state: int
    resume_to_state: int | None
    resume_reason: str
    requested_by: str
    request_source: str
    orchestration_config: dict[str, Any]
    orchestration_job_id: str | None
    orchestration_job_url: str | None
    orchestration_status: str | None
    attempts: int
    variable_changes: list[dict[str, Any]]
    triggered_at: datetime | None
    completed_at: datetime | None
    error_message: str | None
    metadata: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> ResumeRequestOut:
        data = {name: getattr(row, name) for name in cls.model_fields if name != "resume_request_id"}
        return cls(resume_request_id=row.id, **data)


class TriggerAttemptOut(Out):
    id: uuid.UUID
    resume_request_id: uuid.UUID
    attempt: int = Field(description="1 for the first try")
    platform: str
    worker: str = Field(description="The worker process that made the call")
    status: str = Field(description="sending | succeeded | failed")
    error: str | None
    response: dict[str, Any] = Field(description="What the CI answered: target, job reference")
    started_at: datetime
    finished_at: datetime | None


class JobOut(Out):
    id: uuid.UUID
    build_id: uuid.UUID
    platform: str
    pipeline_name: str | None
    job_name: str | None
    job_url: str | None
    job_id: str | None
    build_number: str | None
    triggered_by: str | None
    trigger_source: str
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    is_resume_job: bool
    resumed_from_state: int | None
    parent_job_id: uuid.UUID | None
    resume_request_id: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime


class ResumeContextOut(BaseModel):
    build_id: uuid.UUID
    current_state: int
    last_successful_state: int | None
    failed_state: int | None
    resume_from_state: int
    artifacts: list[ArtifactOut]
    variables: dict[str, str]
    resumable_state_config: ResumableStateOut | None
    missing_artifacts: list[str]
    missing_variables: list[str]
    can_resume: bool
    blockers: list[str]


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


class ApiKeyOut(Out):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class CreatedKeyOut(ApiKeyOut):
    key: str = Field(description="The plain key: shown once, never again")


class EventOut(Out):
    id: int
    created_at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    project_id: str | None
    build_id: uuid.UUID | None
    request_id: str | None
    reason: str | None
    data: dict[str, Any]
