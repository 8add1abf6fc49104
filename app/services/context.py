"""The resume context: everything a job needs to continue a build, with what blocks it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from app.services import derived
from app.services.actor import Actor
from app.services.builds import get_build
from app.services.common import utcnow
from app.services.errors import Forbidden
from app.services.resumable import configs_for
from app.services.variables import view
from app.services.common import record_event
from db.models import Artifact, Build, ResumableState, ResumeRequest, StateCode, Variable


@dataclass
class ResumeContext:
    build_id: uuid.UUID
    current_state: int
    last_successful_state: int | None
    failed_state: int | None
    resume_from_state: int
    artifacts: list[Artifact]
    variables: dict[str, str]
    resumable_state_config: ResumableState | None
    missing_artifacts: list[str] = field(default_factory=list)
    missing_variables: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)

    @property
    def can_resume(self) -> bool:
        return not self.blockers


def usable(artifact: Artifact, now: datetime) -> bool:
    """Counts for resuming: live, resumable and not expired."""
    return (
        artifact.deleted_at is None
        and artifact.is_resumable
        and (artifact.expires_at is None or artifact.expires_at > now)
    )


def missing_requirements(
    config: ResumableState | None,
    artifacts: list[Artifact],
    variable_keys: set[str],
    now: datetime,
) -> tuple[list[str], list[str], list[str]]:
    """(missing artifacts, missing variables, reasons) for resuming at the config's state."""
    if config is None:
        return [], [], []
    reasons: list[str] = []
    if not config.is_resumable:
        reasons.append(f"state {config.state_code} is configured as not resumable")
    missing_artifacts: list[str] = []
    for wanted in config.required_artifacts or []:
        candidates = [a for a in artifacts if wanted in (a.artifact_name, a.artifact_type)]
        if any(usable(a, now) for a in candidates):
            continue
        missing_artifacts.append(wanted)
        if not candidates:
            reasons.append(f"required artifact '{wanted}' was never registered")
        elif all(a.deleted_at is not None for a in candidates):
            reasons.append(f"required artifact '{wanted}' was deleted")
        elif any(a.expires_at is not None and a.expires_at <= now for a in candidates):
            reasons.append(f"required artifact '{wanted}' has expired")
        else:
            reasons.append(f"required artifact '{wanted}' is not marked resumable")
    missing_variables = [k for k in config.required_variables or [] if k not in variable_keys]
    reasons += [f"required variable '{k}' is not set" for k in missing_variables]
    return missing_artifacts, missing_variables, reasons


def status_blockers(build: Build, open_request: ResumeRequest | None) -> list[str]:
    if open_request is not None or build.status in ("failed", "cancelled"):
        return []
    return [f"build is {build.status}; only failed or cancelled builds can be resumed"]


async def resume_contexts_by_build_ids(
    ids: list[uuid.UUID], *, reveal: bool = False
) -> dict[uuid.UUID, ResumeContext]:
    """Batch form: a fixed number of statements whatever the number of builds."""
    builds = {b.id: b for b in await Build.filter(id__in=ids)}
    if not builds:
        return {}
    build_ids = list(builds)
    project_ids = list({b.project_id for b in builds.values()})
    open_requests = {
        r.build_id: r
        for r in await ResumeRequest.filter(
            build_id__in=build_ids, status__in=derived.OPEN_RESUME_STATUSES
        )
    }
    codes: dict[str, list[int]] = {}
    for row in await StateCode.filter(project_id__in=project_ids).order_by("code").values(
        "project_id", "code"
    ):
        codes.setdefault(row["project_id"], []).append(row["code"])
    artifacts: dict[uuid.UUID, list[Artifact]] = {i: [] for i in build_ids}
    for a in await Artifact.filter(build_id__in=build_ids).order_by("state_code", "created_at"):
        artifacts[a.build_id].append(a)
    variables: dict[uuid.UUID, list[Variable]] = {i: [] for i in build_ids}
    for v in await Variable.filter(build_id__in=build_ids).order_by("variable_key"):
        variables[v.build_id].append(v)

    targets = {
        i: derived.resume_from_state(b, open_requests.get(i), codes.get(b.project_id, []))
        for i, b in builds.items()
    }
    configs = await configs_for([(b.project_id, targets[i]) for i, b in builds.items()])
    now = utcnow()
    out: dict[uuid.UUID, ResumeContext] = {}
    for i, build in builds.items():
        config = configs.get((build.project_id, targets[i]))
        keys = {v.variable_key for v in variables[i]}
        missing_a, missing_v, reasons = missing_requirements(config, artifacts[i], keys, now)
        out[i] = ResumeContext(
            build_id=i,
            current_state=build.current_state,
            last_successful_state=build.last_successful_state,
            failed_state=build.failed_state,
            resume_from_state=targets[i],
            artifacts=[a for a in artifacts[i] if usable(a, now)],
            variables={v.variable_key: view(v, reveal=reveal).variable_value for v in variables[i]},
            resumable_state_config=config,
            missing_artifacts=missing_a,
            missing_variables=missing_v,
            blockers=status_blockers(build, open_requests.get(i)) + reasons,
        )
    return out


async def get_resume_context(*, actor: Actor, build_id: str, reveal: bool = False) -> ResumeContext:
    """Everything needed to continue a build, in one answer."""
    actor.require("read")
    build = await get_build(actor=actor, build_id=build_id)
    if reveal:
        if not actor.is_admin:
            raise Forbidden("revealing sensitive values needs the 'admin' scope", scope="admin")
        await record_event(
            actor, "variable.revealed", target_type="build", target_id=build.id,
            project_id=build.project_id, build_id=build.id, data={"keys": "resume-context"},
        )
    return (await resume_contexts_by_build_ids([build.id], reveal=reveal))[build.id]
