"""Resume requests: the operator's (or the orchestrator's) decision to continue a failed build."""

from __future__ import annotations

import uuid

from pydantic import ValidationError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.services import derived
from app.services.actor import Actor
from app.services.builds import get_build
from app.services.commands import RequestResume, SetVariable, UpdateResumeRequest
from app.services.common import parse_uuid, record_event, utcnow
from app.services.concurrency import check_version
from app.services.context import missing_requirements
from app.services.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    NotResumable,
    ValidationFailed,
)
from app.services.variables import upsert_variable
from db.models import (
    Artifact,
    Build,
    ResumableState,
    ResumeRequest,
    StateCode,
    TriggerAttempt,
    Variable,
)

# The status machine. Reopening a build through its state API also moves pending/triggered to
# running (app.services.builds._reopen); that is the only other way in.
ALLOWED_MOVES: dict[str, set[str]] = {
    "pending": {"triggered", "cancelled", "failed"},
    "triggered": {"running", "cancelled", "failed"},
    "running": {"completed", "failed"},
    "completed": set(),
    "failed": set(),
    "cancelled": set(),
}
TERMINAL = {"completed", "failed", "cancelled"}


async def request_resume(*, actor: Actor, build_id: str, command: RequestResume) -> ResumeRequest:
    """File a resume request after checking that the chosen state can be resumed."""
    actor.require("write")
    if not command.resume_reason.strip():
        raise ValidationFailed("resume_reason must say why the build is resumed", field="resume_reason")
    overrides = _validated_overrides(command.variable_overrides)
    try:
        async with in_transaction():
            build = await Build.select_for_update().get_or_none(id=parse_uuid(build_id, "build"))
            if build is None:
                raise NotFound(f"build '{build_id}' not found")
            if build.status not in ("failed", "cancelled"):
                raise InvalidTransition(
                    f"build is {build.status}; only failed or cancelled builds can be resumed",
                    status=build.status,
                )
            await _refuse_second_open(build.id)
            target = await _target_state(build, command)
            config = await ResumableState.get_or_none(project_id=build.project_id, state_code=target)
            artifacts = await Artifact.filter(build_id=build.id)
            keys = set(await Variable.filter(build_id=build.id).values_list("variable_key", flat=True))
            missing_a, missing_v, reasons = missing_requirements(
                config, artifacts, keys | set(overrides), utcnow()
            )
            if reasons:
                raise NotResumable(
                    f"build cannot be resumed from state {target}: " + "; ".join(reasons),
                    missing_artifacts=missing_a, missing_variables=missing_v, reasons=reasons,
                )
            changes = []
            for key, setter in overrides.items():
                _, _, change = await upsert_variable(build, setter, key)
                changes.append(change)
            request = await ResumeRequest.create(
                build_id=build.id,
                resume_from_state=target,
                resume_to_state=command.resume_to_state,
                resume_reason=command.resume_reason,
                requested_by=command.requested_by or actor.name,
                request_source=command.request_source.value,
                orchestration_config=(
                    command.orchestration_config.model_dump(exclude_none=True)
                    if command.orchestration_config else {}
                ),
                variable_changes=changes,
                metadata=command.metadata,
            )
            await record_event(
                actor, "resume.requested", target_type="resume_request", target_id=request.id,
                project_id=build.project_id, build_id=build.id, reason=command.resume_reason,
                data={"resume_from_state": target, "requested_by": request.requested_by,
                      "request_source": request.request_source, "variable_changes": changes},
            )
    except IntegrityError:
        # The partial unique index caught a concurrent second request.
        await _refuse_second_open(parse_uuid(build_id, "build"))
        raise
    return request


def _validated_overrides(raw: dict[str, str]) -> dict[str, SetVariable]:
    out: dict[str, SetVariable] = {}
    for key, value in raw.items():
        try:
            out[key] = SetVariable(variable_key=key, variable_value=value)
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            raise ValidationFailed(
                f"variable_overrides.{key}: {problem}", field=f"variable_overrides.{key}"
            ) from None
    return out


async def _refuse_second_open(build_id: uuid.UUID) -> None:
    existing = await ResumeRequest.filter(
        build_id=build_id, status__in=derived.OPEN_RESUME_STATUSES
    ).first()
    if existing is not None:
        raise Conflict(
            f"resume request {existing.id} is already open ({existing.status}) for this build",
            existing_id=str(existing.id),
        )


async def _target_state(build: Build, command: RequestResume) -> int:
    codes = sorted(
        await StateCode.filter(project_id=build.project_id).values_list("code", flat=True)
    )
    default = derived.resume_from_state(build, None, codes)
    target = default if command.resume_from_state is None else command.resume_from_state
    if codes and target not in codes:
        raise ValidationFailed(
            f"resume_from_state {target} is not a state of this project",
            field="resume_from_state",
        )
    # Up to the failed state; a cancelled build, up to where it would continue.
    limit = build.failed_state if build.failed_state is not None else max(default, build.current_state)
    if target > limit:
        raise ValidationFailed(
            f"resume_from_state {target} is after the failed state {limit}; "
            "choose a state up to it",
            field="resume_from_state",
        )
    if command.resume_to_state is not None and command.resume_to_state < target:
        raise ValidationFailed(
            "resume_to_state must not be before resume_from_state", field="resume_to_state"
        )
    return target


async def get_resume_request(*, actor: Actor, request_id: str) -> ResumeRequest:
    actor.require("read")
    request = await ResumeRequest.get_or_none(id=parse_uuid(request_id, "resume request"))
    if request is None:
        raise NotFound(f"resume request '{request_id}' not found")
    return request


async def list_resume_requests(
    *, actor: Actor, build_id: str, status: str | None = None
) -> list[ResumeRequest]:
    actor.require("read")
    build = await get_build(actor=actor, build_id=build_id)
    rows = (await resume_requests_by_build_ids([build.id]))[build.id]
    return [r for r in rows if status is None or r.status == status]


async def resume_requests_by_build_ids(ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ResumeRequest]]:
    out: dict[uuid.UUID, list[ResumeRequest]] = {i: [] for i in ids}
    for row in await ResumeRequest.filter(build_id__in=ids).order_by("created_at", "id"):
        out.setdefault(row.build_id, []).append(row)
    return out


async def list_trigger_attempts(*, actor: Actor, request_id: str) -> list[TriggerAttempt]:
    """Every try of the orchestrator to start the request's CI job, oldest first."""
    request = await get_resume_request(actor=actor, request_id=request_id)
    return (await trigger_attempts_by_request_ids([request.id]))[request.id]


async def trigger_attempts_by_request_ids(
    ids: list[uuid.UUID],
) -> dict[uuid.UUID, list[TriggerAttempt]]:
    out: dict[uuid.UUID, list[TriggerAttempt]] = {i: [] for i in ids}
    for row in await TriggerAttempt.filter(resume_request_id__in=ids).order_by("attempt"):
        out.setdefault(row.resume_request_id, []).append(row)
    return out


async def update_resume_request(
    *, actor: Actor, request_id: str, command: UpdateResumeRequest,
    expected_version: int | None = None,
) -> ResumeRequest:
    """Move a request along its status machine and record what the CI said."""
    actor.require("write")
    async with in_transaction():
        request = await ResumeRequest.select_for_update().get_or_none(
            id=parse_uuid(request_id, "resume request")
        )
        if request is None:
            raise NotFound(f"resume request '{request_id}' not found")
        check_version(request, expected_version)
        old = request.status
        changes = command.model_dump(exclude_unset=True, exclude={"status"})
        new = command.status.value if command.status is not None else old
        if new != old:
            if new not in ALLOWED_MOVES[old]:
                allowed = ", ".join(sorted(ALLOWED_MOVES[old])) or "none (it is final)"
                raise InvalidTransition(
                    f"a {old} resume request cannot become {new}; allowed: {allowed}",
                    status=old,
                )
            request.status = new
            now = utcnow()
            if new == "triggered":
                request.triggered_at = now
            if new in TERMINAL:
                request.completed_at = now
        request.update_from_dict(changes)
        request.version += 1
        await request.save()
        build = await Build.get(id=request.build_id)
        await record_event(
            actor, "resume.status_changed" if new != old else "resume.updated",
            target_type="resume_request", target_id=request.id, project_id=build.project_id,
            build_id=build.id, reason=command.error_message,
            data={"before": {"status": old}, "after": {"status": new, **{
                k: v for k, v in command.model_dump(mode="json", exclude_unset=True).items()
                if k != "status"}}},
        )
    return request


async def cancel_open_request(*, actor: Actor, build_id: str, reason: str | None = None) -> ResumeRequest:
    """Cancel the build's open (pending or triggered) resume request."""
    build = await get_build(actor=actor, build_id=build_id)
    open_request = await ResumeRequest.filter(
        build_id=build.id, status__in=derived.OPEN_RESUME_STATUSES
    ).first()
    if open_request is None:
        raise NotFound(f"build '{build_id}' has no open resume request")
    return await update_resume_request(
        actor=actor, request_id=str(open_request.id),
        command=UpdateResumeRequest(status="cancelled", error_message=reason),
    )
