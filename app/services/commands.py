"""Validated inputs of the domain services. REST uses them as request bodies; GraphQL builds them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from enum import Enum
from types import UnionType
from typing import Any, ClassVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

SLUG_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
# CI platforms the orchestrator can trigger, and the names it may put into their URLs.
ORCHESTRATION_PLATFORMS = ("jenkins", "concourse", "generic")
SAFE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
StateCodeInt = Field(ge=0, le=1_000_000)


_INT64 = (-(2**63), 2**63 - 1)


def _check_text(value: Any, name: str, depth: int = 0) -> None:
    """No NUL characters anywhere (PostgreSQL cannot store them; SQLite would)."""
    if depth > 32:
        raise ValueError(f"{name} is nested more than 32 levels deep")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{name} must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, name, depth + 1)
            _check_text(item, name, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, name, depth + 1)


def _check_json(value: Any, name: str, depth: int = 0) -> None:
    """JSON documents are stored as they are: integers must fit 64 bits, nesting stays sane."""
    if depth > 32:
        raise ValueError(f"{name} is nested more than 32 levels deep")
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
        raise ValueError(f"{name} holds an integer outside the 64-bit range")
    if isinstance(value, dict):
        for item in value.values():
            _check_json(item, name, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, name, depth + 1)


# What pydantic's `str_strip_whitespace` strips (Rust's `str::trim`: Unicode White_Space),
# spelled out: Python's and ECMAScript's `\s` each differ from it (\x1c-\x1f, \ufeff, \x85).
_STRIPPED = "\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
NOT_BLANK = f"[^{_STRIPPED}]"


def kept_at_least(n: int) -> str:
    """A pattern for "at least n characters once surrounding whitespace is stripped": n >= 1
    characters from the first kept one to the last (search semantics, as JSON Schema's)."""
    return NOT_BLANK if n <= 1 else f"{NOT_BLANK}[\\s\\S]{{{n - 2},}}{NOT_BLANK}"


def document_stripping(schema: dict[str, Any]) -> None:
    """A model that strips surrounding whitespace (`str_strip_whitespace`) applies its length
    rules to what is left, so a text of `minLength` n must hold n characters from the first
    one the strip keeps to the last. The published schema says so (a `pattern`), or a client
    (or a schema-driven fuzzer) would send "\\t" as a valid name and get a 422. Validation does
    not change: the strip and the length rule decide, as before."""
    for prop in schema.get("properties", {}).values():
        for option in prop.get("anyOf", [prop]):
            if (option.get("type") == "string" and option.get("minLength", 0) >= 1
                    and "pattern" not in option):
                option["pattern"] = kept_at_least(option["minLength"])


class Command(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=document_stripping
    )

    @field_validator("*", mode="before")
    @classmethod
    def _exact_json_types(cls, value: Any, info: ValidationInfo) -> Any:
        """`true` is not the number 1 and 0 is not `false`: refuse what lax parsing would coerce
        (a script sending "is_resumable": 0 must hear about it, not store false); no NUL
        characters, and JSON documents with 64-bit integers and sane nesting."""
        if value is None:
            return value
        check = _field_check(cls, info.field_name or "")
        return value if check is None else check(value)

    @classmethod
    def from_values(cls, data: dict[str, Any]) -> Any:
        """`model_validate(data)` for a dict of Python values (GraphQL's coerced input), with
        the same result: when every given value is one validation would pass unchanged (an
        exact int within the field's bounds, a text within its lengths that stripping would
        not change and without NUL, an exact bool, None where the field takes it, a plain JSON
        object whose keys stripping would not change, copied as validation copies it) the
        model is built from them and the defaults directly, as `model_construct` does; any
        other value, an unknown or missing field, a field or command shape not read here goes
        through `model_validate`, so every refusal is its own. The function is generated once
        per command (`app.services.command_builder`). tests/services/test_h8_from_values.py
        compares both on every command, valid and invalid values."""
        return command_builder.from_values_builder(cls)(data)


@lru_cache(maxsize=None)  # a few dozen (command, field) pairs, fixed at import
def _field_check(cls: type[BaseModel], name: str) -> Callable[[Any], Any] | None:
    """What `_exact_json_types` checks for one field, read off its declaration once (max
    length, boolean, integer, date-time, JSON document); None for an unknown field."""
    field = cls.model_fields.get(name)
    if field is None:
        return None
    limit = next((m.max_length for m in field.metadata
                  if getattr(m, "max_length", None) is not None), None)
    union = get_origin(field.annotation) in (Union, UnionType)
    kinds = set(get_args(field.annotation)) if union else {field.annotation}
    return _compiled_check(
        limit,
        boolean=bool in kinds,
        integer=int in kinds and bool not in kinds,
        moment=datetime in kinds,
        document=any(k is dict or getattr(k, "__origin__", None) is dict for k in kinds),
    )


def _compiled_check(
    limit: int | None, *, boolean: bool, integer: bool, moment: bool, document: bool
) -> Callable[[Any], Any]:
    """One field's check. The rules are `_check_value`'s; the usual values (an exact str, bool
    or int where the field takes one, a plain JSON object in a document) are answered by
    shortcuts that take exactly the values it passes unchanged, and anything else goes through
    it, so a refusal always has its error. It runs for every field of every command:
    tests/services/test_h6_exact_types.py compares it with the original per-call rule reading on
    valid and invalid values."""
    texts = not (boolean or integer)  # a text passes only where no bool/int is required
    bools = boolean and not moment  # a bool passes where bool is allowed and date-time is not
    ints = integer and not (moment or document)

    def check(value: Any) -> Any:
        kind = type(value)
        if kind is str and texts:
            if "\x00" in value:
                raise ValueError("the value must not contain NUL characters")
            if limit is not None and len(value) > limit:
                raise ValueError(f"must be at most {limit} characters")
            return value
        if (kind is bool and bools) or (kind is int and ints):
            return value
        if kind is dict and document and texts and not moment and _plain_json(value, 0):
            return value
        return _check_value(value, limit, boolean, integer, moment, document)

    return check


def _check_value(
    value: Any, limit: int | None, boolean: bool, integer: bool, moment: bool, document: bool
) -> Any:
    """The rules of `_exact_json_types` for a value that is not None, in the order they answer."""
    _check_text(value, "the value")
    if isinstance(value, str):
        # The documented maxLength counts what was sent, before whitespace is stripped.
        if limit is not None and len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
    if boolean and not isinstance(value, bool):
        raise ValueError("must be true or false")
    if integer and isinstance(value, (bool, str)):
        raise ValueError("must be an integer")
    if moment and isinstance(value, (bool, int, float)):
        raise ValueError("must be an ISO 8601 date-time")
    if document:
        _check_json(value, "the document")
    return value


def _plain_json(value: Any, depth: int) -> bool:
    """True only for a JSON value that `_check_text` and `_check_json` both pass (exact types:
    texts without NUL, 64-bit integers, floats, booleans, null, and objects with text keys and
    lists of these, within their 32 levels), in one walk instead of their two. False is no
    verdict: the caller asks them."""
    if depth > 32:
        return False
    kind = type(value)
    if kind is str:
        return "\x00" not in value
    if kind is dict:
        depth += 1
        for key, item in value.items():  # a key sits one level down, as _check_text walks it
            if type(key) is not str or "\x00" in key or depth > 32:
                return False
            if type(item) is str:
                if "\x00" in item:
                    return False
            elif not _plain_json(item, depth):
                return False
        return True
    if kind is list:
        depth += 1
        return all(_plain_json(item, depth) for item in value)
    if kind is int:
        return _INT64[0] <= value <= _INT64[1]
    return kind is float or kind is bool or value is None


class UpdateCommand(Command):
    """A partial update: an omitted field is kept; `null` clears only the fields in `nullable`."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _refuse_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                if value is None and name in cls.model_fields and name not in cls.nullable:
                    raise ValueError(f"{name} cannot be null (omit it to keep the stored value)")
        return data


class BuildStatus(str, Enum):
    pending = "pending"
    running = "running"
    failed = "failed"
    completed = "completed"
    cancelled = "cancelled"


class StateStatus(str, Enum):
    in_progress = "in_progress"
    completed = "completed"
    failed = "failed"


class ResumeStatus(str, Enum):
    pending = "pending"
    triggered = "triggered"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


class ResumeStrategy(str, Enum):
    from_artifact = "from_artifact"
    rerun_state = "rerun_state"
    skip_to_next = "skip_to_next"


class RequestSource(str, Enum):
    api = "api"
    cli = "cli"
    webhook = "webhook"
    auto = "auto"


class VariableType(str, Enum):
    string = "string"
    json = "json"
    encrypted = "encrypted"


class JobStatus(str, Enum):
    pending = "pending"
    running = "running"
    success = "success"
    failed = "failed"
    aborted = "aborted"


class TriggerSource(str, Enum):
    manual = "manual"
    webhook = "webhook"
    schedule = "schedule"
    resume = "resume"


JsonObject = dict[str, Any]


class CreateProject(Command):
    id: str = Field(pattern=SLUG_PATTERN, description="Slug: lower-case letters, digits, . _ -")
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    auto_resume: bool = False
    max_auto_resumes: int = Field(default=3, ge=0, le=100)
    default_platform: str | None = Field(default=None, max_length=50)


class UpdateProject(UpdateCommand):
    nullable = frozenset({"description", "default_platform"})
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None
    auto_resume: bool | None = None
    max_auto_resumes: int | None = Field(default=None, ge=0, le=100)
    default_platform: str | None = Field(default=None, max_length=50)


class DefineStateCode(Command):
    code: int = StateCodeInt
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    is_initial: bool = False
    is_final: bool = False
    is_error: bool = False


class CreateBuild(Command):
    project_id: str = Field(min_length=1, max_length=100)
    build_number: int = Field(ge=0, le=2_147_483_647)
    platform: str | None = Field(default=None, max_length=100)
    os_version: str | None = Field(default=None, max_length=100)
    image_type: str | None = Field(default=None, max_length=100)
    metadata: JsonObject = Field(default_factory=dict)


class TransitionBuild(Command):
    state_code: int = StateCodeInt
    status: StateStatus
    message: str | None = None
    metadata: JsonObject = Field(default_factory=dict)


class RecordFailure(Command):
    state_code: int | None = Field(default=None, ge=0, le=1_000_000)
    error_message: str = Field(min_length=1)
    error_code: str | None = Field(default=None, max_length=100)
    retryable: bool = False
    metadata: JsonObject = Field(default_factory=dict)


class RegisterArtifact(Command):
    state_code: int = StateCodeInt
    artifact_name: str = Field(min_length=1, max_length=255)
    artifact_type: str = Field(min_length=1, max_length=100)
    artifact_path: str = Field(min_length=1, max_length=4096)
    storage_backend: str | None = Field(default=None, max_length=100)
    storage_region: str | None = Field(default=None, max_length=100)
    storage_bucket: str | None = Field(default=None, max_length=255)
    storage_key: str | None = Field(default=None, max_length=4096)
    size_bytes: int | None = Field(default=None, ge=0, le=2**63 - 1)
    checksum: str | None = Field(default=None, max_length=255)
    checksum_algorithm: str = Field(default="sha256", max_length=50)
    is_resumable: bool = True
    is_final: bool = False
    expires_at: datetime | None = None
    metadata: JsonObject = Field(default_factory=dict)

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _require_tz(value)


class UpdateArtifact(UpdateCommand):
    nullable = frozenset({"storage_backend", "storage_region", "storage_bucket", "storage_key",
                          "size_bytes", "checksum", "expires_at"})
    state_code: int | None = Field(default=None, ge=0, le=1_000_000)
    artifact_name: str | None = Field(default=None, min_length=1, max_length=255)
    artifact_type: str | None = Field(default=None, min_length=1, max_length=100)
    artifact_path: str | None = Field(default=None, min_length=1, max_length=4096)
    storage_backend: str | None = Field(default=None, max_length=100)
    storage_region: str | None = Field(default=None, max_length=100)
    storage_bucket: str | None = Field(default=None, max_length=255)
    storage_key: str | None = Field(default=None, max_length=4096)
    size_bytes: int | None = Field(default=None, ge=0, le=2**63 - 1)
    checksum: str | None = Field(default=None, max_length=255)
    checksum_algorithm: str | None = Field(default=None, max_length=50)
    is_resumable: bool | None = None
    is_final: bool | None = None
    expires_at: datetime | None = None
    metadata: JsonObject | None = None

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _require_tz(value)


class SetVariable(Command):
    variable_key: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
    variable_value: str = Field(max_length=65536)
    variable_type: VariableType | None = None
    set_at_state: int | None = Field(default=None, ge=0, le=1_000_000)
    is_sensitive: bool | None = None
    is_required_for_resume: bool | None = None

    @field_validator(
        "variable_value", mode="before", json_schema_input_type=str | int | float | bool
    )
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        # Legacy scripts send numbers and booleans; the value is stored as text.
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        return value


class UpdateVariable(UpdateCommand):
    nullable = frozenset({"set_at_state"})
    variable_value: str | None = Field(default=None, max_length=65536)
    variable_type: VariableType | None = None
    set_at_state: int | None = Field(default=None, ge=0, le=1_000_000)
    is_sensitive: bool | None = None
    is_required_for_resume: bool | None = None

    _stringify = field_validator(
        "variable_value", mode="before", json_schema_input_type=str | int | float | bool | None
    )(SetVariable._stringify.__func__)


class DefineResumableState(Command):
    state_code: int = StateCodeInt
    is_resumable: bool = True
    resume_strategy: ResumeStrategy = ResumeStrategy.from_artifact
    required_artifacts: list[str] = Field(default_factory=list, max_length=100)
    required_variables: list[str] = Field(default_factory=list, max_length=100)
    resume_command: str | None = None
    resume_timeout_seconds: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    description: str | None = None
    notes: str | None = None


class UpdateResumableState(UpdateCommand):
    """PUT body: fields given replace the stored ones."""

    nullable = frozenset({"resume_command", "description", "notes"})

    is_resumable: bool | None = None
    resume_strategy: ResumeStrategy | None = None
    required_artifacts: list[str] | None = Field(default=None, max_length=100)
    required_variables: list[str] | None = Field(default=None, max_length=100)
    resume_command: str | None = None
    resume_timeout_seconds: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)
    description: str | None = None
    notes: str | None = None


class OrchestrationConfig(Command):
    """Which CI job continues the build. Names only: URLs and credentials come from settings."""

    model_config = ConfigDict(
        extra="allow", str_strip_whitespace=True, json_schema_extra=document_stripping
    )
    platform: str | None = Field(default=None, max_length=50)
    pipeline: str | None = Field(default=None, pattern=SAFE_NAME_PATTERN)
    job: str | None = Field(default=None, pattern=SAFE_NAME_PATTERN)

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.lower()
        if value not in ORCHESTRATION_PLATFORMS:
            raise ValueError(f"must be one of {', '.join(ORCHESTRATION_PLATFORMS)}")
        return value

    @field_validator("pipeline", "job")
    @classmethod
    def _no_dot_dot(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and ".." in value:
            raise ValueError(f"{info.field_name} must not contain '..'")
        return value


class RequestResume(Command):
    resume_from_state: int | None = Field(default=None, ge=0, le=1_000_000)
    resume_to_state: int | None = Field(default=None, ge=0, le=1_000_000)
    resume_reason: str = Field(min_length=1, max_length=4000)
    requested_by: str | None = Field(default=None, max_length=255)
    request_source: RequestSource = RequestSource.api
    orchestration_config: OrchestrationConfig | None = None
    variable_overrides: dict[str, str] = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class UpdateResumeRequest(UpdateCommand):
    nullable = frozenset({"orchestration_job_id", "orchestration_job_url", "orchestration_status",
                          "error_message"})
    status: ResumeStatus | None = None
    orchestration_job_id: str | None = Field(default=None, max_length=255)
    orchestration_job_url: str | None = Field(default=None, max_length=4096)
    orchestration_status: str | None = Field(default=None, max_length=50)
    error_message: str | None = None
    metadata: JsonObject | None = None


class LinkJob(Command):
    platform: str = Field(min_length=1, max_length=50)
    pipeline_name: str | None = Field(default=None, max_length=255)
    job_name: str | None = Field(default=None, max_length=255)
    job_url: str | None = Field(default=None, max_length=4096)
    job_id: str | None = Field(default=None, max_length=255)
    build_number: str | None = Field(default=None, max_length=100)
    triggered_by: str | None = Field(default=None, max_length=255)
    trigger_source: TriggerSource = TriggerSource.manual
    status: JobStatus = JobStatus.pending
    started_at: datetime | None = None
    is_resume_job: bool = False
    resumed_from_state: int | None = Field(default=None, ge=0, le=1_000_000)
    parent_job_id: str | None = None
    resume_request_id: str | None = None

    @field_validator("build_number", mode="before", json_schema_input_type=str | int | None)
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class UpdateJob(UpdateCommand):
    nullable = frozenset({"job_url", "job_id", "build_number", "started_at", "completed_at"})
    status: JobStatus | None = None
    job_url: str | None = Field(default=None, max_length=4096)
    job_id: str | None = Field(default=None, max_length=255)
    build_number: str | None = Field(default=None, max_length=100)
    started_at: datetime | None = None
    completed_at: datetime | None = None

    _number_as_text = field_validator("build_number", mode="before")(LinkJob._number_as_text.__func__)


def _require_tz(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a timezone (e.g. 2026-12-01T00:00:00Z)")
    return value


# Generates `from_values` per command; it reads `Command`, so it is imported once that exists.
from app.services import command_builder  # noqa: E402
