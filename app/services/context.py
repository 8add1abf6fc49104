"""The resume context: everything a job needs to continue a build, with what blocks it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
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


@dataclass(frozen=True)
class ArtifactRecord:
    """An artifact as the resume context reads it (the columns of `db.models.Artifact` that
    callers see; read-only: changes go through app.services.artifacts).

    Frozen without __slots__: the read sets its __dict__ at once (`_artifact`: a fifth of the
    frozen __init__'s cost, which calls object.__setattr__ per field), and orjson writes such
    an instance straight from its __dict__, as a dict, so the REST answer needs no dict of its
    own per artifact. The fields are in the order of `ArtifactOut`'s (app/rest/resume.py checks
    it)."""

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


@dataclass(frozen=True)
class ResumableStateRecord:
    """A resumable-state config as the resume context reads it (see `db.models.ResumableState`);
    built and written like `ArtifactRecord`, in the order of `ResumableStateOut`'s fields."""

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
# here in Python (derived states, usable artifacts, missing requirements, masking). Artifacts
# come in two lists: live and resumable ones whole (the answer is among them), the others as the
# five columns that can explain a missing requirement. Both dialects are tested
# (tests/services/test_perf_context.py).

_ARTIFACT_COLUMNS = [f.name for f in fields(ArtifactRecord) if f.name != "build_id"]
_SEEN_COLUMNS = ["artifact_name", "artifact_type", "is_resumable", "expires_at", "deleted_at"]
_CONFIG_COLUMNS = [f.name for f in fields(ResumableStateRecord)]
_JSON_COLUMNS = {"metadata", "required_artifacts", "required_variables"}


def _json_array(dialect: str, alias: str, columns: list[str]) -> str:
    """A row as a JSON array (positional: no key repeated per row, less to parse)."""

    def value(column: str) -> str:
        ref = f'{alias}."{column}"'
        # SQLite stores JSON columns as text: json() embeds them as JSON, not as a string.
        return f"json({ref})" if dialect == "sqlite" and column in _JSON_COLUMNS else ref

    function = "json_build_array" if dialect == "postgres" else "json_array"
    return f"{function}(" + ", ".join(value(c) for c in columns) + ")"


@lru_cache(maxsize=16)
def _statement(dialect: str, count: int, with_build: bool = False) -> str:
    if dialect == "postgres":
        ids, agg, order = "b.id = ANY($1::uuid[])", "json_agg", " ORDER BY {}"
    else:  # SQLite before 3.44 has no ORDER BY in aggregates: sorted in Python
        ids, agg, order = f"b.id IN ({', '.join('?' * count)})", "json_group_array", ""
    statuses = ", ".join(f"'{s}'" for s in derived.OPEN_RESUME_STATUSES)
    live = "a.deleted_at IS NULL AND a.is_resumable"
    # With the build: every column of its row too, as "build__<column>" (builds_with_contexts).
    build = "".join(f', b."{c}" AS "build__{c}"' for c in _build_columns()) if with_build else ""
    return f"""
SELECT b.id, b.project_id, b.status, b.current_state, b.last_successful_state, b.failed_state{build},
  (SELECT r.resume_from_state FROM resume_requests r
    WHERE r.build_id = b.id AND r.status IN ({statuses})
    ORDER BY r.created_at DESC LIMIT 1) AS open_from,
  (SELECT {agg}(s.code{order.format("s.code")}) FROM state_codes s
    WHERE s.project_id = b.project_id) AS codes,
  (SELECT {agg}({_json_array(dialect, "c", _CONFIG_COLUMNS)}) FROM resumable_states c
    WHERE c.project_id = b.project_id) AS configs,
  (SELECT {agg}({_json_array(dialect, "a", _ARTIFACT_COLUMNS)}{order.format("a.state_code, a.created_at")})
    FROM build_artifacts a WHERE a.build_id = b.id AND {live}) AS artifacts,
  (SELECT {agg}({_json_array(dialect, "a", _SEEN_COLUMNS)}) FROM build_artifacts a
    WHERE a.build_id = b.id AND NOT ({live})) AS other_artifacts,
  (SELECT {agg}({_json_array(dialect, "v", ["variable_key", "variable_value", "is_sensitive"])}{order.format("v.variable_key")})
    FROM build_variables v WHERE v.build_id = b.id) AS variables
FROM builds b WHERE {ids}"""


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return orjson.loads(value) if isinstance(value, (str, bytes)) else list(value)


_UTC = timezone.utc
_iso = datetime.fromisoformat


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:  # SQLite keeps what it was given; the service writes UTC
        return moment.replace(tzinfo=_UTC)
    return moment.astimezone(_UTC)


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = _iso(value)
    # "+00:00" (or "Z") parses to the timezone.utc singleton: nothing to convert. PostgreSQL
    # writes a timestamptz in the session's TimeZone (UTC in practice) and SQLite returns what
    # it was given: any other offset, or none, is converted here, never assumed away.
    return moment if moment.tzinfo is _UTC else _utc(moment)


# A uuid.UUID (the exact class: orjson writes it, `==` and hash as usual, and its __setattr__
# refuses) without the argument handling and checks of UUID.__init__ (1.2 us -> 0.5 us): the
# text of a uuid column is its 32 hex digits with 4 hyphens. Anything else goes to UUID().
_UUID = uuid.UUID
_set_uuid_int = _UUID.int.__set__  # type: ignore[attr-defined]
_set_uuid_safe = _UUID.is_safe.__set__  # type: ignore[attr-defined]
_UNKNOWN = uuid.SafeUUID.unknown
_new = object.__new__
_set = object.__setattr__


def _uuid(text: str) -> uuid.UUID:
    digits = text.replace("-", "")
    if len(text) != 36 or len(digits) != 32:  # braces, "urn:uuid:", ...: as UUID() takes them
        return _UUID(text)
    ident = _new(_UUID)
    _set_uuid_int(ident, int(digits, 16))  # what UUID() does with these digits (or ValueError)
    _set_uuid_safe(ident, _UNKNOWN)
    return ident


# The positions below are the order of _ARTIFACT_COLUMNS and _CONFIG_COLUMNS, i.e. of the
# records' fields: checked here, once, so that a field added to a record cannot shift them.
assert _ARTIFACT_COLUMNS == [
    "id", "state_code", "artifact_name", "artifact_type", "artifact_path", "storage_backend",
    "storage_region", "storage_bucket", "storage_key", "size_bytes", "checksum",
    "checksum_algorithm", "is_resumable", "is_final", "expires_at", "metadata", "version",
    "created_at", "updated_at", "deleted_at",
], _ARTIFACT_COLUMNS
assert _CONFIG_COLUMNS == [
    "id", "project_id", "state_code", "is_resumable", "resume_strategy", "required_artifacts",
    "required_variables", "resume_command", "resume_timeout_seconds", "description", "notes",
    "created_at", "updated_at",
], _CONFIG_COLUMNS


def _artifact(build_id: uuid.UUID, v: list[Any]) -> ArtifactRecord:
    """A frozen record from its column values: its __dict__ set at once, keys in field order
    (what the frozen __init__ would hold, without an object.__setattr__ call per field)."""
    (ident, state_code, name, kind, path, backend, region, bucket, key, size, checksum,
     algorithm, resumable, final, expires, metadata, version, created, updated, deleted) = v
    created = _iso(created)
    if created.tzinfo is not _UTC:
        created = _utc(created)
    updated = _iso(updated)
    if updated.tzinfo is not _UTC:
        updated = _utc(updated)
    record = _new(ArtifactRecord)
    _set(record, "__dict__", {
        "id": _uuid(ident), "build_id": build_id, "state_code": state_code,
        "artifact_name": name, "artifact_type": kind, "artifact_path": path,
        "storage_backend": backend, "storage_region": region, "storage_bucket": bucket,
        "storage_key": key, "size_bytes": size, "checksum": checksum,
        "checksum_algorithm": algorithm, "is_resumable": bool(resumable),
        "is_final": bool(final), "expires_at": None if expires is None else _when(expires),
        "metadata": metadata if metadata is not None else {}, "version": version,
        "created_at": created, "updated_at": updated,
        "deleted_at": None if deleted is None else _when(deleted),
    })
    return record


@dataclass(frozen=True, slots=True)
class _SeenArtifact:
    """A deleted or non-resumable artifact: only ever a reason why a requirement is missing."""

    artifact_name: str
    artifact_type: str
    is_resumable: bool
    expires_at: datetime | None
    deleted_at: datetime | None


def _config(v: list[Any]) -> ResumableStateRecord:
    (ident, project_id, state_code, resumable, strategy, artifacts, variables, command, timeout,
     description, notes, created, updated) = v
    record = _new(ResumableStateRecord)
    _set(record, "__dict__", {
        "id": _uuid(ident), "project_id": project_id, "state_code": state_code,
        "is_resumable": bool(resumable), "resume_strategy": strategy,
        "required_artifacts": artifacts or [], "required_variables": variables or [],
        "resume_command": command, "resume_timeout_seconds": timeout,
        "description": description, "notes": notes,
        "created_at": _when(created), "updated_at": _when(updated),
    })
    return record


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
    config = next((_config(c) for c in _list(row["configs"]) if c[2] == target), None)
    items = [_artifact(build_id, a) for a in _list(row["artifacts"])]  # live and resumable
    if sqlite:
        items.sort(key=lambda a: (a.state_code, a.created_at))
    # A requirement only looks at the artifacts it names (by name or type): the others,
    # deleted or not resumable, only ever explain a missing one, and the rules need no other.
    wanted = set(config.required_artifacts) if config is not None else set()
    named: list[Any] = []
    if wanted:
        named = [a for a in items if a.artifact_name in wanted or a.artifact_type in wanted]
        named += [
            _SeenArtifact(name, kind, bool(resumable), _when(expires), _when(deleted))
            for name, kind, resumable, expires, deleted in _list(row["other_artifacts"])
            if name in wanted or kind in wanted
        ]
    variables = _list(row["variables"])  # [key, stored value, is_sensitive]
    if sqlite:
        variables.sort(key=lambda v: v[0])
    keys = {v[0] for v in variables}
    missing_a, missing_v, reasons = missing_requirements(config, named, keys, now)
    return ResumeContext(
        build_id=build_id,
        current_state=build.current_state,
        last_successful_state=build.last_successful_state,
        failed_state=build.failed_state,
        resume_from_state=target,
        artifacts=[a for a in items if usable(a, now)],
        variables={key: shown_value(value, bool(sensitive), reveal)
                   for key, value, sensitive in variables},
        resumable_state_config=config,
        missing_artifacts=missing_a,
        missing_variables=missing_v,
        blockers=status_blockers(build, open_request) + reasons,
    )


async def _rows(ids: list[uuid.UUID], *, with_build: bool) -> tuple[list[dict[str, Any]], bool]:
    db = Build._meta.db
    dialect = db.capabilities.dialect
    unique = list(dict.fromkeys(ids))
    if dialect == "postgres":
        rows = await db.execute_query_dict(_statement(dialect, 0, with_build), [unique])
    else:
        rows = await db.execute_query_dict(
            _statement(dialect, len(unique), with_build), [str(i) for i in unique]
        )
    return rows, dialect != "postgres"


async def resume_contexts_by_build_ids(
    ids: list[uuid.UUID], *, reveal: bool = False
) -> dict[uuid.UUID, ResumeContext]:
    """Batch form: one statement whatever the number of builds, artifacts and variables."""
    if not ids:
        return {}
    rows, sqlite = await _rows(ids, with_build=False)
    now = utcnow()
    out = [_context(row, reveal, now, sqlite) for row in rows]
    return {c.build_id: c for c in out}


async def builds_with_contexts(
    ids: list[uuid.UUID],
) -> dict[uuid.UUID, tuple[Build, ResumeContext]]:
    """`builds.builds_by_ids` and `resume_contexts_by_build_ids` (masked) in ONE statement: the
    context's statement with every column of the build's row, the row instantiated by the ORM's
    own `_init_from_db` (as builds_by_ids does). GraphQL's `build(id) { resumeContext }` asks for
    both; tests/services/test_perf_context.py compares both halves with the two reads."""
    if not ids:
        return {}
    rows, sqlite = await _rows(ids, with_build=True)
    now = utcnow()
    columns = _build_columns()
    out: dict[uuid.UUID, tuple[Build, ResumeContext]] = {}
    for row in rows:
        found = _context(row, False, now, sqlite)
        build = Build._init_from_db(**{c: row[f"build__{c}"] for c in columns})
        out[found.build_id] = (build, found)
    return out


@lru_cache(maxsize=1)
def _build_columns() -> tuple[str, ...]:
    return tuple(Build._meta.fields_db_projection.values())


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

