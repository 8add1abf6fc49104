"""Tortoise models: the system of record. Table names follow the seed document."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class TimestampedModel(Model):
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


class Project(TimestampedModel):
    id = fields.CharField(primary_key=True, max_length=100)
    name = fields.CharField(max_length=200)
    description = fields.TextField(null=True)
    auto_resume = fields.BooleanField(default=False)
    max_auto_resumes = fields.IntField(default=3)
    default_platform = fields.CharField(max_length=50, null=True)

    class Meta:
        table = "projects"


class StateCode(TimestampedModel):
    id = fields.UUIDField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="state_codes", on_delete=fields.CASCADE
    )
    code = fields.IntField()
    name = fields.CharField(max_length=200)
    description = fields.TextField(null=True)
    is_initial = fields.BooleanField(default=False)
    is_final = fields.BooleanField(default=False)
    is_error = fields.BooleanField(default=False)

    class Meta:
        table = "state_codes"
        unique_together = (("project", "code"),)


class Build(TimestampedModel):
    id = fields.UUIDField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="builds", on_delete=fields.RESTRICT
    )
    build_number = fields.IntField()
    platform = fields.CharField(max_length=100, null=True)
    os_version = fields.CharField(max_length=100, null=True)
    image_type = fields.CharField(max_length=100, null=True)
    status = fields.CharField(max_length=20, default="pending", db_index=True)
    current_state = fields.IntField(default=0)
    # Derived values kept next to the row they describe; only app.services.builds writes them.
    last_successful_state = fields.IntField(null=True)
    failed_state = fields.IntField(null=True)
    metadata = fields.JSONField(default=dict)
    resume_count = fields.IntField(default=0)
    version = fields.IntField(default=1)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "builds"
        unique_together = (("project", "build_number"),)


class BuildState(Model):
    """Append-only state history."""

    id = fields.UUIDField(primary_key=True)
    build: fields.ForeignKeyRelation[Build] = fields.ForeignKeyField(
        "models.Build", related_name="states", on_delete=fields.CASCADE
    )
    state_code = fields.IntField()
    status = fields.CharField(max_length=20)
    message = fields.TextField(null=True)
    metadata = fields.JSONField(default=dict)
    error_message = fields.TextField(null=True)
    error_code = fields.CharField(max_length=100, null=True)
    retryable = fields.BooleanField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "build_states"
        indexes = (("build", "created_at"),)


class Artifact(TimestampedModel):
    id = fields.UUIDField(primary_key=True)
    build: fields.ForeignKeyRelation[Build] = fields.ForeignKeyField(
        "models.Build", related_name="artifacts", on_delete=fields.CASCADE
    )
    state_code = fields.IntField()
    artifact_name = fields.CharField(max_length=255)
    artifact_type = fields.CharField(max_length=100)
    artifact_path = fields.TextField()
    storage_backend = fields.CharField(max_length=100, null=True)
    storage_region = fields.CharField(max_length=100, null=True)
    storage_bucket = fields.CharField(max_length=255, null=True)
    storage_key = fields.TextField(null=True)
    size_bytes = fields.BigIntField(null=True)
    checksum = fields.CharField(max_length=255, null=True)
    checksum_algorithm = fields.CharField(max_length=50, default="sha256")
    is_resumable = fields.BooleanField(default=True)
    is_final = fields.BooleanField(default=False)
    expires_at = fields.DatetimeField(null=True)
    metadata = fields.JSONField(default=dict)
    version = fields.IntField(default=1)
    deleted_at = fields.DatetimeField(null=True)
    deleted_reason = fields.CharField(max_length=50, null=True)  # admin | expired
    storage_deleted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "build_artifacts"
        indexes = (("build", "state_code"),)
        # Uniqueness of live names is a partial unique index written in the migrations
        # (uq_build_artifacts_live_name): Tortoise cannot express "WHERE deleted_at IS NULL".


class Variable(TimestampedModel):
    id = fields.UUIDField(primary_key=True)
    build: fields.ForeignKeyRelation[Build] = fields.ForeignKeyField(
        "models.Build", related_name="variables", on_delete=fields.CASCADE
    )
    variable_key = fields.CharField(max_length=255)
    variable_value = fields.TextField()
    variable_type = fields.CharField(max_length=20, default="string")
    set_at_state = fields.IntField(null=True)
    is_sensitive = fields.BooleanField(default=False)
    is_required_for_resume = fields.BooleanField(default=False)
    version = fields.IntField(default=1)

    class Meta:
        table = "build_variables"
        unique_together = (("build", "variable_key"),)


class ResumableState(TimestampedModel):
    id = fields.UUIDField(primary_key=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="resumable_states", on_delete=fields.CASCADE
    )
    state_code = fields.IntField()
    is_resumable = fields.BooleanField(default=True)
    resume_strategy = fields.CharField(max_length=30, default="from_artifact")
    required_artifacts = fields.JSONField(default=list)
    required_variables = fields.JSONField(default=list)
    resume_command = fields.TextField(null=True)
    resume_timeout_seconds = fields.IntField(default=3600)
    description = fields.TextField(null=True)
    notes = fields.TextField(null=True)

    class Meta:
        table = "resumable_states"
        unique_together = (("project", "state_code"),)


class ResumeRequest(TimestampedModel):
    id = fields.UUIDField(primary_key=True)
    build: fields.ForeignKeyRelation[Build] = fields.ForeignKeyField(
        "models.Build", related_name="resume_requests", on_delete=fields.CASCADE
    )
    resume_from_state = fields.IntField()
    resume_to_state = fields.IntField(null=True)
    resume_reason = fields.TextField()
    requested_by = fields.CharField(max_length=255)
    request_source = fields.CharField(max_length=20, default="api")
    status = fields.CharField(max_length=20, default="pending", db_index=True)
    orchestration_config = fields.JSONField(default=dict)
    orchestration_job_id = fields.CharField(max_length=255, null=True)
    orchestration_job_url = fields.TextField(null=True)
    orchestration_status = fields.CharField(max_length=50, null=True)
    attempts = fields.IntField(default=0)
    variable_changes = fields.JSONField(default=list)
    triggered_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    error_message = fields.TextField(null=True)
    metadata = fields.JSONField(default=dict)
    version = fields.IntField(default=1)
    # Orchestrator bookkeeping: who holds the request, until when, and when to try again.
    lease_owner = fields.CharField(max_length=255, null=True)
    lease_expires_at = fields.DatetimeField(null=True)
    next_attempt_at = fields.DatetimeField(null=True)
    stalled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "resume_requests"
        indexes = (("build", "created_at"),)
        # "At most one open request per build" is a partial unique index in the migrations
        # (uq_resume_requests_open).


class BuildJob(TimestampedModel):
    id = fields.UUIDField(primary_key=True)
    build: fields.ForeignKeyRelation[Build] = fields.ForeignKeyField(
        "models.Build", related_name="jobs", on_delete=fields.CASCADE
    )
    platform = fields.CharField(max_length=50)
    pipeline_name = fields.CharField(max_length=255, null=True)
    job_name = fields.CharField(max_length=255, null=True)
    job_url = fields.TextField(null=True)
    job_id = fields.CharField(max_length=255, null=True)
    build_number = fields.CharField(max_length=100, null=True)
    triggered_by = fields.CharField(max_length=255, null=True)
    trigger_source = fields.CharField(max_length=20, default="manual")
    status = fields.CharField(max_length=20, default="pending")
    started_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    is_resume_job = fields.BooleanField(default=False)
    resumed_from_state = fields.IntField(null=True)
    parent_job: fields.ForeignKeyNullableRelation[BuildJob] = fields.ForeignKeyField(
        "models.BuildJob", related_name="children", null=True, on_delete=fields.SET_NULL
    )
    resume_request: fields.ForeignKeyNullableRelation[ResumeRequest] = fields.ForeignKeyField(
        "models.ResumeRequest", related_name="jobs", null=True, on_delete=fields.SET_NULL
    )
    version = fields.IntField(default=1)

    class Meta:
        table = "build_jobs"
        indexes = (("build", "created_at"),)


class ApiKey(TimestampedModel):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    key_hash = fields.CharField(max_length=64, unique=True)
    prefix = fields.CharField(max_length=12)
    scopes = fields.JSONField(default=list)
    revoked_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"


class Event(Model):
    """Audit trail: one row per change, written in the transaction of the change."""

    id = fields.BigIntField(primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    actor = fields.CharField(max_length=255)
    action = fields.CharField(max_length=100)
    target_type = fields.CharField(max_length=50)
    target_id = fields.CharField(max_length=100)
    project_id = fields.CharField(max_length=100, null=True)
    build_id = fields.UUIDField(null=True, db_index=True)
    request_id = fields.CharField(max_length=64, null=True)
    reason = fields.TextField(null=True)
    data = fields.JSONField(default=dict)

    class Meta:
        table = "events"


class TriggerAttempt(Model):
    """One try of the orchestrator to start a CI job for a resume request."""

    id = fields.UUIDField(primary_key=True)
    resume_request: fields.ForeignKeyRelation[ResumeRequest] = fields.ForeignKeyField(
        "models.ResumeRequest", related_name="trigger_attempts", on_delete=fields.CASCADE
    )
    attempt = fields.IntField()
    platform = fields.CharField(max_length=50)
    worker = fields.CharField(max_length=255)
    status = fields.CharField(max_length=20, default="sending")  # sending | succeeded | failed
    error = fields.TextField(null=True)
    response = fields.JSONField(default=dict)
    started_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "trigger_attempts"
        unique_together = (("resume_request", "attempt"),)


class WebhookSubscription(TimestampedModel):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=100)
    url = fields.TextField()
    events = fields.JSONField(default=list)
    project_id = fields.CharField(max_length=100, null=True)
    secret = fields.TextField()  # encrypted at rest
    active = fields.BooleanField(default=True)

    class Meta:
        table = "webhook_subscriptions"


class WebhookDelivery(TimestampedModel):
    """One event for one subscription; retried until delivered or given up."""

    id = fields.UUIDField(primary_key=True)
    subscription: fields.ForeignKeyRelation[WebhookSubscription] = fields.ForeignKeyField(
        "models.WebhookSubscription", related_name="deliveries", on_delete=fields.CASCADE
    )
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="deliveries", on_delete=fields.CASCADE
    )
    build_id = fields.UUIDField(null=True)
    status = fields.CharField(max_length=20, default="pending", db_index=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    last_status_code = fields.IntField(null=True)
    last_error = fields.TextField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    lease_owner = fields.CharField(max_length=255, null=True)
    lease_expires_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_deliveries"
        unique_together = (("subscription", "event"),)


class WebhookDeliveryAttempt(Model):
    id = fields.UUIDField(primary_key=True)
    delivery: fields.ForeignKeyRelation[WebhookDelivery] = fields.ForeignKeyField(
        "models.WebhookDelivery", related_name="attempt_log", on_delete=fields.CASCADE
    )
    attempt = fields.IntField()
    status_code = fields.IntField(null=True)
    error = fields.TextField(null=True)
    duration_ms = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook_delivery_attempts"


class WorkerCursor(Model):
    """Where a worker that tails the event log has got to."""

    name = fields.CharField(primary_key=True, max_length=100)
    position = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "worker_cursors"


class IdempotencyKey(Model):
    """The first answer to a request sent with an Idempotency-Key, replayed for retries."""

    id = fields.UUIDField(primary_key=True)
    actor = fields.CharField(max_length=255)
    key = fields.CharField(max_length=255)
    method = fields.CharField(max_length=10)
    path = fields.TextField()
    body_hash = fields.CharField(max_length=64)
    status_code = fields.IntField(null=True)
    response_body = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "idempotency_keys"
        unique_together = (("actor", "key"),)
