"""One vocabulary of errors: domain codes → GraphQL, in one place.

- Inside a mutation, an expected failure becomes a member of its result union (`to_error`).
- Anywhere else (queries, nested fields, permissions) it is a top-level error whose
  `extensions.code` is the same code (`ErrorPolicy`).
- Anything without a code is a bug: its message is masked and it is logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pydantic
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.utils.str_converters import to_camel_case

from app.services.errors import DomainError
from schema.types.errors import (
    ConflictError,
    Error,
    InvalidTransitionError,
    NotFoundError,
    NotResumableError,
    PreconditionFailedError,
    ValidationError,
)

INTERNAL = "INTERNAL_SERVER_ERROR"


def camel_path(field: str | None) -> str | None:
    """`resume_from_state` → `resumeFromState`; only the first segment is an input name
    (later ones may be user keys such as `variableOverrides.vm_id`)."""
    if not field:
        return field
    head, sep, rest = str(field).partition(".")
    return to_camel_case(head) + sep + rest


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def _list(value: Any) -> list[str]:
    return [str(v) for v in value or []]


# code → how that domain error reads as a typed GraphQL error.
_BY_CODE: dict[str, Callable[[DomainError], Error]] = {
    "NOT_FOUND": lambda e: NotFoundError(message=e.message, code=e.code),
    "CONFLICT": lambda e: ConflictError(
        message=e.message, code=e.code, existing_id=_id(e.details.get("existing_id"))
    ),
    "VALIDATION": lambda e: ValidationError(
        message=e.message, code=e.code, field=camel_path(e.details.get("field"))
    ),
    "INVALID_TRANSITION": lambda e: InvalidTransitionError(
        message=e.message, code=e.code, current_status=e.details.get("status")
    ),
    "NOT_RESUMABLE": lambda e: NotResumableError(
        message=e.message, code=e.code,
        missing_artifacts=_list(e.details.get("missing_artifacts")),
        missing_variables=_list(e.details.get("missing_variables")),
        reasons=_list(e.details.get("reasons")),
    ),
    "PRECONDITION_FAILED": lambda e: PreconditionFailedError(
        message=e.message, code=e.code, current_version=e.details.get("current_version")
    ),
}


def to_error(exc: DomainError) -> Error | None:
    """The typed error for a domain error; None for codes that are never typed (auth)."""
    make = _BY_CODE.get(exc.code)
    return make(exc) if make else None


def validation_error(exc: pydantic.ValidationError) -> ValidationError:
    """The first problem of a command that would not build, naming its input field."""
    problem = exc.errors()[0]
    loc = ".".join(str(part) for part in problem.get("loc", ()))
    field = camel_path(loc) or None
    message = problem.get("msg", "invalid input")
    return ValidationError(
        message=f"{field}: {message}" if field else message, code="VALIDATION", field=field
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (uuid.UUID, datetime)):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def top_level_extensions(exc: DomainError) -> dict[str, Any]:
    details = {to_camel_case(k): _jsonable(v) for k, v in exc.details.items()}
    if "field" in details:
        details["field"] = camel_path(details["field"])
    return {**details, "code": exc.code}


def graphql_error(exc: DomainError) -> GraphQLError:
    """A domain error raised where no result union can carry it."""
    return GraphQLError(exc.message, extensions=top_level_extensions(exc))


def _has_code(error: GraphQLError) -> bool:
    return bool(error.extensions and error.extensions.get("code"))


def should_mask_error(error: GraphQLError) -> bool:
    """Keep errors that carry a code, and GraphQL's own (syntax, validation, variables)."""
    original = error.original_error
    if original is None or isinstance(original, (GraphQLError, DomainError)):
        return False  # GraphQL's own (e.g. variable coercion wraps a GraphQLError), or ours
    return not _has_code(error)


UNEXPECTED = "Unexpected error."


def mask_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The errors as the client sees them: domain errors as their code, unexpected ones masked
    (logged with their traceback by BuildstateSchema.process_errors beforehand), GraphQL's own
    unchanged. The one definition of the masking: ErrorPolicy (the extension) and
    BuildstateSchema.execute (schema/schema.py) both call it."""
    out: list[GraphQLError] = []
    for error in errors:
        original = error.original_error
        if isinstance(original, DomainError):
            out.append(GraphQLError(
                original.message, nodes=error.nodes, source=error.source,
                positions=error.positions, path=error.path,
                extensions=top_level_extensions(original),
            ))
        elif should_mask_error(error):
            # What MaskErrors.anonymise_error makes, with our code.
            masked = GraphQLError(
                UNEXPECTED, nodes=error.nodes, source=error.source, positions=error.positions,
                path=error.path, original_error=None,
            )
            masked.extensions = {"code": INTERNAL}
            out.append(masked)
        else:
            out.append(error)
    return out


def mask_result(result: object) -> None:
    """Masks a result's errors in place (see `mask_errors`)."""
    # Strawberry's MaskErrors checks `isinstance(result, <runtime-checkable Protocol>)`: ~20 us
    # per operation; the same test, an attribute with errors.
    errors = getattr(result, "errors", None)
    if errors:
        result.errors = mask_errors(errors)  # type: ignore[attr-defined]


class ErrorPolicy(MaskErrors):
    """Domain errors keep their code; unexpected exceptions are logged and masked. Strawberry's
    MaskErrors drives it (streamed results are masked frame by frame); the rule is
    `mask_errors`."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask_error, error_message=UNEXPECTED)

    def _process_result(self, result: object) -> None:
        mask_result(result)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return mask_errors(errors)
