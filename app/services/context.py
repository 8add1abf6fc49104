"""The resume context: everything a job needs to continue a build, with what blocks it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Protocol

import orjson

from app.services import derived
from app.services.actor import Actor
from app.services.builds import get_build
from app.services.common import parse_uuid, record_event, utcnow
from app.services.errors import Forbidden, NotFound
from app.services.variables import shown_value
from db.models import Build


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """An artifact as the resume context reads it (the columns of `db.models.Artifact` that
    callers see; read-only: changes go through app.services.artifacts)."""

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


@dataclass(frozen=True, slots=True)
class ResumableStateRecord:
    """A resumable-state config as the resume context reads it (see `db.models.ResumableState`)."""

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


@dataclass
class ResumeContext:
    build_id: uuid.UUID
    current_state: int
    last_successful_state: int | None
    failed_state: int | None
    resume_from_state: int
    artifacts: list[ArtifactRecord]
    variables: dict[str, str]
    resumable_state_config: ResumableStateRecord | None
    missing_artifacts: list[str] = field(default_factory=list)
    missing_variables: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)

    @property
    def can_resume(self) -> bool:
        return not self.blockers


class ArtifactState(Protocol):
    artifact_name: str
    artifact_type: str
    is_resumable: bool
    expires_at: datetime | None
    deleted_at: datetime | None


class ConfigRequirements(Protocol):
    state_code: int
    is_resumable: bool
    required_artifacts: list[str]
    required_variables: list[str]


def usable(artifact: ArtifactState, now: datetime) -> bool:
    """Counts for resuming: live, resumable and not expired."""
    return (
        artifact.deleted_at is None
        and artifact.is_resumable
        and (artifact.expires_at is None or artifact.expires_at > now)
    )


def missing_requirements(
    config: ConfigRequirements | None,
    artifacts: list[Any],
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


def status_blockers(build: derived.BuildStates, open_request: object | None) -> list[str]:
    if open_request is not None or build.status in ("failed", "cancelled"):
        return []
    return [f"build is {build.status}; only failed or cancelled builds can be resumed"]


# --- The read: one statement per batch of builds -----------------------------------------------
#
# The ORM needed seven statements (and a Model instance per row, the largest cost of the read).
# This statement returns one row per build with its open request, its project's state codes and
# configs, and its artifacts and variables as JSON arrays built by the database; the rules stay
# here in Python (derived states, usable artifacts, missing requirements, masking). The columns
# come from the models, so a new column is picked up; both dialects are tested
# (tests/services/test_perf_context.py).

_ARTIFACT_COLUMNS = [f for f in ArtifactRecord.__slots__ if f != "build_id"]
_CONFIG_COLUMNS = list(ResumableStateRecord.__slots__)
_JSON_COLUMNS = {"metadata", "required_artifacts", "required_variables"}


def _json_object(dialect: str, alias: str, columns: list[str]) -> str:
    def value(column: str) -> str:
        ref = f'{alias}."{column}"'
        # SQLite stores JSON columns as text: json() embeds them as JSON, not as a string.
        return f"json({ref})" if dialect == "sqlite" and column in _JSON_COLUMNS else ref

    function = "json_build_object" if dialect == "postgres" else "json_object"
    return f"{function}(" + ", ".join(f"'{c}', {value(c)}" for c in columns) + ")"


@lru_cache(maxsize=8)
def _statement(dialect: str, count: int) -> str:
    if dialect == "postgres":
        ids, agg, order = "b.id = ANY($1::uuid[])", "json_agg", " ORDER BY {}"
    else:  # SQLite before 3.44 has no ORDER BY in aggregates: sorted in Python
        ids, agg, order = f"b.id IN ({', '.join('?' * count)})", "json_group_array", ""
    statuses = ", ".join(f"'{s}'" for s in derived.OPEN_RESUME_STATUSES)
    artifact = _json_object(dialect, "a", _ARTIFACT_COLUMNS)
    config = _json_object(dialect, "c", _CONFIG_COLUMNS)
    variable = _json_object(dialect, "v", ["variable_key", "variable_value", "is_sensitive"])
    return f"""
SELECT b.id, b.project_id, b.status, b.current_state, b.last_successful_state, b.failed_state,
  (SELECT r.resume_from_state FROM resume_requests r
    WHERE r.build_id = b.id AND r.status IN ({statuses})
    ORDER BY r.created_at DESC LIMIT 1) AS open_from,
  (SELECT {agg}(s.code{order.format("s.code")}) FROM state_codes s
    WHERE s.project_id = b.project_id) AS codes,
  (SELECT {agg}({config}) FROM resumable_states c WHERE c.project_id = b.project_id) AS configs,
  (SELECT {agg}({artifact}{order.format('a.state_code, a.created_at')}) FROM build_artifacts a
    WHERE a.build_id = b.id) AS artifacts,
  (SELECT {agg}({variable}{order.format("v.variable_key")}) FROM build_variables v
    WHERE v.build_id = b.id) AS variables
FROM builds b WHERE {ids}"""


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return orjson.loads(value) if isinstance(value, (str, bytes)) else list(value)


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:  # SQLite keeps what it was given; the service writes UTC
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _artifact(build_id: uuid.UUID, a: dict[str, Any]) -> ArtifactRecord:
    return ArtifactRecord(
        id=uuid.UUID(a["id"]), build_id=build_id, state_code=a["state_code"],
        artifact_name=a["artifact_name"], artifact_type=a["artifact_type"],
        artifact_path=a["artifact_path"], storage_backend=a["storage_backend"],
        storage_region=a["storage_region"], storage_bucket=a["storage_bucket"],
        storage_key=a["storage_key"], size_bytes=a["size_bytes"], checksum=a["checksum"],
        checksum_algorithm=a["checksum_algorithm"], is_resumable=bool(a["is_resumable"]),
        is_final=bool(a["is_final"]), expires_at=_when(a["expires_at"]),
        metadata=a["metadata"] if a["metadata"] is not None else {}, version=a["version"],
        created_at=_when(a["created_at"]), updated_at=_when(a["updated_at"]),  # type: ignore[arg-type]
        deleted_at=_when(a["deleted_at"]),
    )


def _config(c: dict[str, Any]) -> ResumableStateRecord:
    return ResumableStateRecord(
        id=uuid.UUID(c["id"]), project_id=c["project_id"], state_code=c["state_code"],
        is_resumable=bool(c["is_resumable"]), resume_strategy=c["resume_strategy"],
        required_artifacts=c["required_artifacts"] or [],
        required_variables=c["required_variables"] or [],
        resume_command=c["resume_command"], resume_timeout_seconds=c["resume_timeout_seconds"],
        description=c["description"], notes=c["notes"],
        created_at=_when(c["created_at"]), updated_at=_when(c["updated_at"]),  # type: ignore[arg-type]
    )


@dataclass(frozen=True, slots=True)
class _BuildRow:  # what derived.resume_from_state and status_blockers read
    status: str
    current_state: int
    last_successful_state: int | None
    failed_state: int | None


@dataclass(frozen=True, slots=True)
class _OpenRequest:
    resume_from_state: int


def _context(row: dict[str, Any], reveal: bool, now: datetime, sqlite: bool) -> ResumeContext:
    build_id = uuid.UUID(str(row["id"]))  # a plain UUID (asyncpg gives its own subclass)
    build = _BuildRow(row["status"], row["current_state"], row["last_successful_state"],
                      row["failed_state"])
    open_request = _OpenRequest(row["open_from"]) if row["open_from"] is not None else None
    codes = _list(row["codes"])
    if sqlite:
        codes.sort()
    target = derived.resume_from_state(build, open_request, codes)
    config = next((_config(c) for c in _list(row["configs"]) if c["state_code"] == target), None)
    # Only artifacts that can be answered or that a requirement names are worth a record.
    wanted = set(config.required_artifacts) if config is not None else set()
    items = [
        _artifact(build_id, a) for a in _list(row["artifacts"])
        if (a["deleted_at"] is None and a["is_resumable"])
        or a["artifact_name"] in wanted or a["artifact_type"] in wanted
    ]
    variables = _list(row["variables"])
    if sqlite:
        items.sort(key=lambda a: (a.state_code, a.created_at))
        variables.sort(key=lambda v: v["variable_key"])
    keys = {v["variable_key"] for v in variables}
    missing_a, missing_v, reasons = missing_requirements(config, items, keys, now)
    return ResumeContext(
        build_id=build_id,
        current_state=build.current_state,
        last_successful_state=build.last_successful_state,
        failed_state=build.failed_state,
        resume_from_state=target,
        artifacts=[a for a in items if usable(a, now)],
        variables={
            v["variable_key"]: shown_value(v["variable_value"], bool(v["is_sensitive"]), reveal)
            for v in variables
        },
        resumable_state_config=config,
        missing_artifacts=missing_a,
        missing_variables=missing_v,
        blockers=status_blockers(build, open_request) + reasons,
    )


async def resume_contexts_by_build_ids(
    ids: list[uuid.UUID], *, reveal: bool = False
) -> dict[uuid.UUID, ResumeContext]:
    """Batch form: one statement whatever the number of builds, artifacts and variables."""
    if not ids:
        return {}
    db = Build._meta.db
    dialect = db.capabilities.dialect
    unique = list(dict.fromkeys(ids))
    if dialect == "postgres":
        rows = await db.execute_query_dict(_statement(dialect, 0), [unique])
    else:
        rows = await db.execute_query_dict(_statement(dialect, len(unique)), [str(i) for i in unique])
    now = utcnow()
    out = [_context(row, reveal, now, dialect != "postgres") for row in rows]
    return {c.build_id: c for c in out}


async def get_resume_context(*, actor: Actor, build_id: str, reveal: bool = False) -> ResumeContext:
    """Everything needed to continue a build, in one answer."""
    actor.require("read")
    ident = parse_uuid(build_id, "build")
    if reveal:
        build = await get_build(actor=actor, build_id=ident)
        if not actor.is_admin:
            raise Forbidden("revealing sensitive values needs the 'admin' scope", scope="admin")
        await record_event(
            actor, "variable.revealed", target_type="build", target_id=build.id,
            project_id=build.project_id, build_id=build.id, data={"keys": "resume-context"},
        )
    found = (await resume_contexts_by_build_ids([ident], reveal=reveal)).get(ident)
    if found is None:
        raise NotFound(f"build '{build_id}' not found")
    return found

