"""What every mutation shares: its result union, building its command, mapping its failures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Annotated, Any, TypeVar, Union, get_args

import pydantic
import strawberry
from strawberry.types.unset import UNSET

from app.services.commands import Command
from app.services.errors import DomainError, ValidationFailed
from schema.errors import to_error, validation_error
from schema.types.errors import Error, ValidationError

C = TypeVar("C", bound=Command)
T = TypeVar("T")


def result_union(name: str, success: type, *errors: type[Error]) -> Any:
    """`XResult = Success | Error…`: the mutation's success type and its expected failures."""
    return Annotated[
        Union[(success, *errors)],  # noqa: UP007 — built at runtime from a tuple
        strawberry.union(name, description=f"{success.__name__}, or why it did not happen."),
    ]


def _members(union: Any) -> tuple[type, ...]:
    return get_args(get_args(union)[0])


def given(data: object, *, clearable: Collection[str] | None = None) -> dict[str, Any]:
    """The fields the caller gave (omitted ones are left out, so service defaults apply).

    With `clearable` (update inputs), an explicit null is only accepted for the fields listed:
    elsewhere it would mean "store NULL" in a column that has no NULL.
    """
    out: dict[str, Any] = {}
    for name, value in strawberry.asdict(data).items():
        if value is UNSET:
            continue
        if value is None and clearable is not None and name not in clearable:
            raise ValidationFailed(f"{name} cannot be null; omit it to keep it", field=name)
        out[name] = value
    return out


def command(model: type[C], data: dict[str, Any]) -> C:
    """Build a domain command; a pydantic ValidationError becomes a typed ValidationError."""
    return model.model_validate(data)


async def attempt(
    union: Any, run: Callable[[], Awaitable[T]], *, fields: Mapping[str, str] | None = None
) -> T | Error:
    """Run the mutation; expected failures become members of its union.

    A domain error the union does not list (e.g. FORBIDDEN) stays a top-level error with its
    code (see schema.errors.ErrorPolicy). `fields` renames command fields to the input's names
    where they differ (`variableKey` → `key`).
    """
    allowed = _members(union)
    try:
        return await run()
    except pydantic.ValidationError as exc:
        error: Error | None = validation_error(exc)
        if not isinstance(error, allowed):
            raise
    except DomainError as exc:
        error = to_error(exc)
        if error is None or not isinstance(error, allowed):
            raise
    if fields and isinstance(error, ValidationError) and error.field:
        head, sep, rest = error.field.partition(".")
        if head in fields:
            renamed = fields[head] + sep + rest
            error.message = error.message.replace(error.field, renamed, 1)
            error.field = renamed
    return error
