"""What every mutation shares: its result union, building its command, mapping its failures,
and the `idempotencyKey` argument of the mutations that create something."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Annotated, Any, TypeVar, Union, get_args

import pydantic
import strawberry
from strawberry.relay.types import GlobalID
from strawberry.schema.name_converter import NameConverter
from strawberry.scalars import is_scalar
from strawberry.types.arguments import InputContext
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.enum import has_enum_definition
from strawberry.types.unset import UNSET

from app.services import idempotency
from app.services.commands import Command
from app.services.errors import DomainError, ValidationFailed
from schema.context import Info
from schema.errors import to_error, validation_error
from schema.types.errors import Error, ValidationError

C = TypeVar("C", bound=Command)
T = TypeVar("T")
InputT = TypeVar("InputT", bound=type)


def built_directly(cls: InputT) -> InputT:
    """Build this input straight from graphql-core's coerced value (`from_input`, the hook
    Strawberry offers input types that build their own value), with the same result.

    Strawberry's generic conversion walks every declared field of the input on every request:
    its GraphQL name (camel-casing it again), its resolved type, and a recursive
    `convert_argument` that, for a scalar or an enum, returns the value as graphql-core
    coerced it. Here that walk is planned once (per schema config): scalar and enum fields
    (bare or nullable) take the value as it is, a null stays null, and any other field (a
    list, a nested input, a GlobalID) is converted by Strawberry itself (`InputContext.convert`,
    at the same path). Omitted fields keep their class default (UNSET), fields without one get
    None, as Strawberry does. tests/graphql/test_mutation_fast_paths.py compares both on every
    mutation input. `Maybe` fields are refused: Strawberry skips their null check for types
    with this hook.
    """
    definition = cls.__strawberry_definition__
    assert definition.is_input and definition.from_input is None, cls
    assert not any(isinstance(f.type, StrawberryMaybe) for f in definition.fields), cls
    implicit = {f.python_name: None for f in definition.fields
                if f.default_value is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING}
    planned: list[Any] = [None, None]  # [config, plan]: one schema in practice

    def plan(context: InputContext) -> list[tuple[str, str, Any, bool]]:
        out = []
        for f in definition.fields:
            type_ = f.resolve_type(type_definition=definition)
            bare = type_.of_type if isinstance(type_, StrawberryOptional) else type_
            direct = bare is not GlobalID and (
                is_scalar(bare, context.scalar_registry) or has_enum_definition(bare)
            )
            out.append((context.config.name_converter.from_field(f), f.python_name, type_,
                        direct))
        return out

    def from_input(target: type, value: Mapping[str, Any], context: InputContext) -> Any:
        if planned[0] is not context.config:
            planned[:] = [context.config, plan(context)]
        kwargs = dict(implicit)
        for name, python_name, type_, direct in planned[1]:
            if name in value:
                item = value[name]
                kwargs[python_name] = (item if direct or item is None or item is UNSET
                                       else context.convert(item, type_, name))
        return target(**kwargs)

    definition.from_input = from_input
    return cls


def arguments_named_once(field: Any) -> None:
    """Give each argument of a root field its GraphQL name now (buildId for build_id), so that
    Strawberry's argument conversion reads it instead of camel-casing the Python name again on
    every request. The names are those the schema's default NameConverter gives
    (schema/schema.py keeps auto camel case): the SDL does not change (tests/graphql/test_sdl.py;
    tests/graphql/test_mutation_fast_paths.py compares each with the schema's converter)."""
    for argument in field.arguments:
        if argument.graphql_name is None:
            argument.graphql_name = _NAMES.apply_naming_config(argument.python_name)


_NAMES = NameConverter()


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
    """Build a domain command; a pydantic ValidationError becomes a typed ValidationError.
    A `Command` is built by `Command.from_values` (the same model or the same error as
    `model_validate`, with less work for the usual values GraphQL has coerced already)."""
    if issubclass(model, Command):
        return model.from_values(data)
    return model.model_validate(data)


async def attempt(
    union: Any, run: Callable[[], Awaitable[T]], *, fields: Mapping[str, str] | None = None
) -> T | Error:
    """Run the mutation; expected failures become members of its union.

    A domain error the union does not list (e.g. FORBIDDEN) stays a top-level error with its
    code (see schema.errors.ErrorPolicy). `fields` renames command fields to the input's names
    where they differ (`variableKey` → `key`).
    """
    try:
        return await run()
    except (pydantic.ValidationError, DomainError) as exc:
        error = expected_error(union, exc, fields)
        if error is None:
            raise
        return error


def expected_error(union: Any, exc: pydantic.ValidationError | DomainError,
                   fields: Mapping[str, str] | None = None) -> Error | None:
    """What `attempt` answers for this failure: the union's member for it (with `fields`
    renamed), or None when the union does not list it (the caller re-raises it). A resolver
    that inlines `attempt` (registerArtifact's) calls this from its `except` clause."""
    if isinstance(exc, pydantic.ValidationError):
        error: Error | None = validation_error(exc)
    else:
        error = to_error(exc)
    if error is None or not isinstance(error, _members(union)):
        return None
    if fields and isinstance(error, ValidationError) and error.field:
        head, sep, rest = error.field.partition(".")
        if head in fields:
            renamed = fields[head] + sep + rest
            error.message = error.message.replace(error.field, renamed, 1)
            error.field = renamed
    return error


# Described once, on the Mutation type (schema/mutations/__init__.py).
IdempotencyKey = str | None

GRAPHQL = "GRAPHQL"  # the key's "method": a key used over REST is never replayed here


async def attempt_once(
    info: Info,
    union: Any,
    run: Callable[[], Awaitable[T]],
    *,
    key: str | None,
    operation: str,
    arguments: Mapping[str, Any],
    ref: Callable[[T], dict[str, Any]],
    reload: Callable[[dict[str, Any]], Awaitable[T]],
    fields: Mapping[str, str] | None = None,
) -> T | Error:
    """`attempt`, once per idempotency key (app.services.idempotency, as REST uses it).

    What is kept is transport-neutral: a success as `ref(result)` (its ids), read again with
    `reload` on a replay, and an expected error as its type and fields. The mutation's writes
    and that record commit in one transaction.
    """
    if key is None:
        return await attempt(union, run, fields=fields)
    first: list[T | Error] = []

    async def work() -> idempotency.Answer:
        first.clear()
        result = await attempt(union, run, fields=fields)
        first.append(result)
        if isinstance(result, Error):
            kept = {"error": type(result).__name__, "fields": dataclasses.asdict(result)}
        else:
            kept = {"ok": ref(result)}
        return idempotency.Answer(200, json.dumps(kept, default=str))

    settings = info.context.settings
    try:
        answer, replayed = await idempotency.run_once(
            actor=info.context.principal, key=key, method=GRAPHQL, path=operation,
            digest=idempotency.body_hash(json.dumps(dict(arguments), default=_plain)),
            ttl_seconds=settings.idempotency_ttl_seconds,
            wait_seconds=settings.idempotency_wait_seconds, work=work,
        )
    except idempotency.IdempotencyKeyReused as exc:
        return _key_error(union, "this idempotencyKey was already used for another request; "
                          "use a new key for a new request", exc.code)
    except ValidationFailed as exc:  # a malformed key
        return _key_error(union, exc.message.replace("Idempotency-Key", "idempotencyKey"),
                          exc.code)
    if not replayed:
        return first[0]
    kept = json.loads(answer.body)
    if "error" in kept:
        members = {m.__name__: m for m in _members(union)}
        return members[kept["error"]](**kept["fields"])
    return await attempt(union, lambda: reload(kept["ok"]))


def _key_error(union: Any, message: str, code: str) -> Error:
    if ValidationError not in _members(union):
        raise ValidationFailed(message, field="idempotencyKey")
    return ValidationError(message=message, code=code, field="idempotencyKey")


def _plain(value: Any) -> Any:
    """JSON for argument values that are not JSON already (enums, datetimes)."""
    return getattr(value, "value", None) if isinstance(value, Enum) else str(value)
