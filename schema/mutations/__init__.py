"""Root mutations: one module per mutation, each returning its result union."""

from __future__ import annotations

import strawberry

from schema.mutations import (
    cancel_build,
    create_build,
    create_project,
    define_resumable_state,
    define_state_code,
    delete_artifact,
    delete_variable,
    link_job,
    record_failure,
    register_artifact,
    request_resume,
    set_variable,
    transition_build,
    update_artifact,
    update_job,
    update_resumable_state,
    update_resume_request,
    webhook_subscriptions,
)
from schema.mutations.base import arguments_named_once


@strawberry.type(description=(
    "Every write of buildstate. The mutations that create something (createProject, "
    "defineStateCode, createBuild, transitionBuild, recordFailure, registerArtifact, "
    "setVariable, requestResume, defineResumableState, linkJob) take an optional "
    "idempotencyKey that makes a retry safe: the same key with the same arguments answers "
    "as the first call did (the object as it is now, or the same error) without doing it "
    "again; the same key with other arguments is a ValidationError with code "
    "IDEMPOTENCY_KEY_REUSED. Keys are 1 to 255 visible ASCII characters (a UUID), belong to "
    "the credential and are kept 24 hours."
))
class Mutation:
    create_project = create_project.field
    define_state_code = define_state_code.field
    create_build = create_build.field
    transition_build = transition_build.field
    record_failure = record_failure.field
    cancel_build = cancel_build.field
    register_artifact = register_artifact.field
    update_artifact = update_artifact.field
    delete_artifact = delete_artifact.field
    set_variable = set_variable.field
    delete_variable = delete_variable.field
    request_resume = request_resume.field
    update_resume_request = update_resume_request.field
    define_resumable_state = define_resumable_state.field
    update_resumable_state = update_resumable_state.field
    link_job = link_job.field
    update_job = update_job.field
    create_webhook_subscription = webhook_subscriptions.create_field
    delete_webhook_subscription = webhook_subscriptions.delete_field


for _field in Mutation.__strawberry_definition__.fields:
    arguments_named_once(_field)
