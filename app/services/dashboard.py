"""What the dashboard shows besides the statistics: recent builds with their progress, open resumes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from app.services import derived
from app.services.actor import Actor
from app.services.stats import Stats, get_stats
from app.services.common import utcnow
from db.models import Build, BuildState, ResumeRequest, StateCode


@dataclass(frozen=True)
class StepView:
    code: int
    name: str | None
    state: str  # done | active | failed | todo


@dataclass(frozen=True)
class BuildProgress:
    id: uuid.UUID
    project_id: str
    build_number: int
    status: str
    current_state: int
    last_successful_state: int | None
    failed_state: int | None
    resume_count: int
    created_at: datetime
    updated_at: datetime
    steps: list[StepView]


@dataclass(frozen=True)
class OpenResume:
    id: uuid.UUID
    build_id: uuid.UUID
    project_id: str
    build_number: int
    status: str
    resume_from_state: int
    resume_reason: str
    requested_by: str
    request_source: str
    created_at: datetime


@dataclass(frozen=True)
class Overview:
    generated_at: datetime
    stats: Stats
    recent_builds: list[BuildProgress]
    open_resume_requests: list[OpenResume]


def _step_state(code: int, build: Build) -> str:
    if build.failed_state is not None and code == build.failed_state and build.status == "failed":
        return "failed"
    if build.last_successful_state is not None and code <= build.last_successful_state:
        return "done"
    if code == build.current_state and build.status == "running":
        return "active"
    if build.status == "completed":
        return "done"
    return "todo"


async def _progress(builds: list[Build]) -> list[BuildProgress]:
    projects = list({b.project_id for b in builds})
    codes: dict[str, list[tuple[int, str | None]]] = {p: [] for p in projects}
    for s in await StateCode.filter(project_id__in=projects).order_by("code"):
        if not s.is_initial:
            codes[s.project_id].append((s.code, s.name))
    # Projects without state codes: the codes their builds have been through.
    bare = [b.id for b in builds if not codes[b.project_id]]
    seen: dict[uuid.UUID, set[int]] = {i: set() for i in bare}
    if bare:
        for build_id, code in await BuildState.filter(build_id__in=bare).values_list(
            "build_id", "state_code"
        ):
            seen[build_id].add(code)
    out = []
    for b in builds:
        steps = codes[b.project_id] or [
            (c, None) for c in sorted(seen.get(b.id, set()) | {derived.DEFAULT_FINAL_CODE}) if c
        ]
        out.append(BuildProgress(
            id=b.id, project_id=b.project_id, build_number=b.build_number, status=b.status,
            current_state=b.current_state, last_successful_state=b.last_successful_state,
            failed_state=b.failed_state, resume_count=b.resume_count, created_at=b.created_at,
            updated_at=b.updated_at,
            steps=[StepView(code, name, _step_state(code, b)) for code, name in steps],
        ))
    return out


async def overview(
    *, actor: Actor, project_id: str | None = None, since: datetime | None = None,
    recent: int = 12,
) -> Overview:
    """Statistics plus recent builds with their progress and the open resume requests."""
    stats = await get_stats(actor=actor, project_id=project_id, since=since)
    builds = Build.all()
    requests = ResumeRequest.filter(status__in=derived.OPEN_RESUME_STATUSES)
    if project_id is not None:
        builds = builds.filter(project_id=project_id)
        requests = requests.filter(build__project_id=project_id)
    recent_builds = await builds.order_by("-updated_at", "-id").limit(recent)
    open_rows = await requests.order_by("-created_at").limit(50).select_related("build")
    return Overview(
        generated_at=utcnow(),
        stats=stats,
        recent_builds=await _progress(recent_builds),
        open_resume_requests=[
            OpenResume(
                id=r.id, build_id=r.build_id, project_id=r.build.project_id,
                build_number=r.build.build_number, status=r.status,
                resume_from_state=r.resume_from_state, resume_reason=r.resume_reason,
                requested_by=r.requested_by, request_source=r.request_source,
                created_at=r.created_at,
            )
            for r in open_rows
        ],
    )
