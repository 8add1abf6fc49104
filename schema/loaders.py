"""Per-request DataLoaders: one per edge, each calling a service's batch read.

Built fresh in `get_context` for every request (never module-level), so a cache never outlives
the request and never leaks one caller's view into another's.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from app.services import (
    artifacts, audit, builds, context, jobs, projects, resumable, resume, variables,
)
from db.models import (
    Artifact,
    Build,
    BuildJob,
    BuildState,
    Event,
    Project,
    ResumableState,
    ResumeRequest,
    StateCode,
    TriggerAttempt,
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


def _clear(loader: DataLoader[Any, Any], key: Any) -> None:
    # Strawberry's DataLoader.clear raises KeyError for a key it never loaded.
    try:
        loader.clear(key)
    except KeyError:
        pass


@dataclass
class Loaders:
    build: DataLoader[uuid.UUID, Build | None]
    project: DataLoader[str, Project | None]
    artifacts: DataLoader[uuid.UUID, list[Artifact]]
    variables: DataLoader[uuid.UUID, list[Variable]]
    jobs: DataLoader[uuid.UUID, list[BuildJob]]
    states: DataLoader[uuid.UUID, list[BuildState]]
    resume_requests: DataLoader[uuid.UUID, list[ResumeRequest]]
    trigger_attempts: DataLoader[uuid.UUID, list[TriggerAttempt]]
    resume_context: DataLoader[uuid.UUID, context.ResumeContext | None]
    build_with_context: DataLoader[uuid.UUID, tuple[Build, context.ResumeContext] | None]
    state_codes: DataLoader[str, list[StateCode]]
    resumable_states: DataLoader[str, list[ResumableState]]
    events: DataLoader[uuid.UUID, list[Event]]

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
            trigger_attempts=DataLoader(_many(resume.trigger_attempts_by_request_ids)),
            resume_context=DataLoader(_one(context.resume_contexts_by_build_ids)),
            # A build and its (masked) resume context, read by one statement.
            build_with_context=DataLoader(_one(context.builds_with_contexts)),
            state_codes=DataLoader(_many(projects.state_codes_by_project_ids)),
            resumable_states=DataLoader(_many(resumable.resumable_states_by_project_ids)),
            events=DataLoader(_many(audit.events_by_build_ids)),
        )

    def forget_build(self, build_id: uuid.UUID, *, row: Build | None = None) -> None:
        """A build's row or state machine changed: its row, history, requests and context."""
        _clear(self.build, build_id)
        _clear(self.build_with_context, build_id)
        if row is not None:
            self.build.prime(build_id, row)
        for loader in (self.states, self.resume_requests, self.resume_context):
            _clear(loader, build_id)

    def forget_artifacts(self, build_id: uuid.UUID) -> None:
        _clear(self.build_with_context, build_id)
        _clear(self.artifacts, build_id)
        _clear(self.resume_context, build_id)

    def forget_variables(self, build_id: uuid.UUID) -> None:
        _clear(self.build_with_context, build_id)
        _clear(self.variables, build_id)
        _clear(self.resume_context, build_id)

    def forget_jobs(self, build_id: uuid.UUID) -> None:
        _clear(self.jobs, build_id)

    def forget_project(self, project_id: str, *, row: Project | None = None) -> None:
        """A project, its state codes or its resumable-state configs changed."""
        _clear(self.project, project_id)
        if row is not None:
            self.project.prime(project_id, row)
        _clear(self.state_codes, project_id)
        _clear(self.resumable_states, project_id)
        # Resume contexts of its builds depend on its states and configs.
        self.resume_context.clear_all()
        self.build_with_context.clear_all()


def as_uuid(value: Any) -> uuid.UUID | None:
    """A GraphQL ID as a UUID; None when malformed (a malformed id names nothing)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return None
