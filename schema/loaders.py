"""Per-request DataLoaders: one per edge, each calling a service's batch read.

Built fresh in `get_context` for every request (never module-level), so a cache never outlives
the request and never leaks one caller's view into another's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from app.services import artifacts, builds, context, jobs, projects, resumable, resume, variables
from app.services.actor import SYSTEM
from app.services.errors import NotFound
from db.models import (
    Artifact,
    Build,
    BuildJob,
    BuildState,
    Project,
    ResumableState,
    ResumeRequest,
    StateCode,
    Variable,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _one(
    batch: Callable[[list[K]], Awaitable[Mapping[K, V]]],
) -> Callable[[list[K]], Awaitable[list[V | None]]]:
    """Adapt a `{key: row}` batch read to DataLoader's ordered list (None when absent)."""

    async def load(keys: list[K]) -> list[V | None]:
        found = await batch(list(keys))
        return [found.get(key) for key in keys]

    return load


def _many(
    batch: Callable[[list[K]], Awaitable[Mapping[K, list[V]]]],
) -> Callable[[list[K]], Awaitable[list[list[V]]]]:
    """Adapt a `{key: [rows]}` batch read to DataLoader's ordered list ([] when absent)."""

    async def load(keys: list[K]) -> list[list[V]]:
        found = await batch(list(keys))
        return [found.get(key, []) for key in keys]

    return load


async def _resumable_states_by_project_ids(ids: list[str]) -> dict[str, list[ResumableState]]:
    # WORKAROUND (schema-only): app.services.resumable has no batch read by project yet, so this
    # issues one service call per project. Wanted: `resumable_states_by_project_ids(ids)`.
    async def one(project_id: str) -> list[ResumableState]:
        try:
            return await resumable.list_resumable_states(actor=SYSTEM, project_id=project_id)
        except NotFound:
            return []

    rows = await asyncio.gather(*(one(i) for i in ids))
    return dict(zip(ids, rows, strict=True))


@dataclass
class Loaders:
    build: DataLoader[uuid.UUID, Build | None]
    project: DataLoader[str, Project | None]
    artifacts: DataLoader[uuid.UUID, list[Artifact]]
    variables: DataLoader[uuid.UUID, list[Variable]]
    jobs: DataLoader[uuid.UUID, list[BuildJob]]
    states: DataLoader[uuid.UUID, list[BuildState]]
    resume_requests: DataLoader[uuid.UUID, list[ResumeRequest]]
    resume_context: DataLoader[uuid.UUID, context.ResumeContext | None]
    state_codes: DataLoader[str, list[StateCode]]
    resumable_states: DataLoader[str, list[ResumableState]]

    @classmethod
    def create(cls) -> Loaders:
        return cls(
            build=DataLoader(_one(builds.builds_by_ids)),
            project=DataLoader(_one(projects.projects_by_ids)),
            # All live artifacts of a build; field arguments filter them in Python.
            artifacts=DataLoader(_many(artifacts.artifacts_by_build_ids)),
            # Raw rows: the field passes each through `variables.view`, which masks.
            variables=DataLoader(_many(variables.variables_by_build_ids)),
            jobs=DataLoader(_many(jobs.jobs_by_build_ids)),
            states=DataLoader(_many(builds.states_by_build_ids)),
            resume_requests=DataLoader(_many(resume.resume_requests_by_build_ids)),
            resume_context=DataLoader(_one(context.resume_contexts_by_build_ids)),
            state_codes=DataLoader(_many(projects.state_codes_by_project_ids)),
            resumable_states=DataLoader(_many(_resumable_states_by_project_ids)),
        )

    def forget_build(self, build_id: uuid.UUID, *, row: Build | None = None) -> None:
        """A build's row or state machine changed: its row, history, requests and context."""
        self.build.clear(build_id)
        if row is not None:
            self.build.prime(build_id, row)
        for loader in (self.states, self.resume_requests, self.resume_context):
            loader.clear(build_id)

    def forget_artifacts(self, build_id: uuid.UUID) -> None:
        self.artifacts.clear(build_id)
        self.resume_context.clear(build_id)

    def forget_variables(self, build_id: uuid.UUID) -> None:
        self.variables.clear(build_id)
        self.resume_context.clear(build_id)

    def forget_jobs(self, build_id: uuid.UUID) -> None:
        self.jobs.clear(build_id)

    def forget_project(self, project_id: str, *, row: Project | None = None) -> None:
        """A project, its state codes or its resumable-state configs changed."""
        self.project.clear(project_id)
        if row is not None:
            self.project.prime(project_id, row)
        self.state_codes.clear(project_id)
        self.resumable_states.clear(project_id)
        # Resume contexts of its builds depend on its states and configs.
        self.resume_context.clear_all()


def as_uuid(value: Any) -> uuid.UUID | None:
    """A GraphQL ID as a UUID; None when malformed (a malformed id names nothing)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return None
