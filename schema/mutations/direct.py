"""Mutation fields resolved without Strawberry's per-request resolver wrapper.

Strawberry's resolver for a field (`GraphQLCoreConverter.from_resolver`) does, on every call:
build the Info, convert the arguments (`get_arguments`: the argument's name and type looked up,
then `convert_argument`'s chain of type checks), let the field extensions map them, chain the
field extensions with `functools.partial`, run `PermissionExtension.resolve_async` (its
permission classes), and await the resolver through two more coroutines. On the benchmark's
registerArtifact that wrapper cost as much CPU as building the command and the answer.

`resolve_directly` does the same steps for a mutation field, with what does not depend on
the request worked out once: per argument, its GraphQL name, its Python name and how its value
is converted (a scalar or an enum as graphql-core coerced it, an input type with a `from_input`
hook through that hook, anything else through Strawberry's own `convert_argument`); then the
permission classes in order, with the same Info, source and converted arguments; then the
resolver, whose coroutine graphql-core awaits. Errors are those of Strawberry's path (same
exceptions, raised at the same step: conversion, then permission, then the resolver), so
graphql-core gives them the same message, path and extensions. A conversion or permission
error is raised when graphql-core calls the resolver, not when it awaits it: graphql-core
(`Executor.execute_field`, `complete_awaitable_value`) handles both alike.

Only the fields whose shape this covers are installed (`_plan` says why not otherwise);
the others keep Strawberry's resolver. tests/graphql/test_h2_direct_resolvers.py runs
Strawberry's resolver (kept as `.strawberry_resolver`) and this one on every mutation field,
for valid, invalid, partial and unauthorised calls, and compares the answers.
"""

from __future__ import annotations

from collections.abc import Callable
from inspect import iscoroutine, iscoroutinefunction
from typing import Any

from graphql import GraphQLResolveInfo
from strawberry.exceptions import PermissionReturnedNonBooleanError
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import InputContext, convert_argument
from strawberry.types.base import StrawberryMaybe, StrawberryOptional, has_object_definition
from strawberry.types.enum import has_enum_definition
from strawberry.types.field import StrawberryField
from strawberry.types.unset import UNSET
from strawberry.utils.await_maybe import await_maybe

BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF

# How one argument's coerced value becomes the resolver's: as it is, through the input type's
# `from_input` hook, or through Strawberry's `convert_argument`.
AS_IS, FROM_INPUT, CONVERTED = "as is", "from_input", "converted"


def install(schema: Any) -> list[str]:
    """Resolve the Mutation root's eligible fields directly; returns their GraphQL names."""
    converter = schema.schema_converter
    mutation_type = schema._schema.mutation_type
    installed = []
    if mutation_type is None or converter.exception_handlers:
        return installed  # field exception handlers change the resolver's shape
    for name, graphql_field in mutation_type.fields.items():
        if hasattr(graphql_field.resolve, "strawberry_resolver"):
            continue  # installed already
        field = graphql_field.extensions.get(BACKREF)
        plan = _plan(field, converter) if isinstance(field, StrawberryField) else None
        if plan is None:
            continue
        resolver = _resolver(field, plan, converter)
        resolver.strawberry_resolver = graphql_field.resolve  # type: ignore[attr-defined]
        graphql_field.resolve = resolver
        installed.append(name)
    return installed


def _plan(field: StrawberryField, converter: Any) -> list[tuple[str, str, Any, str]] | None:
    """Per argument (GraphQL name, Python name, type, conversion), or None when the field is
    not one this module resolves the same way as Strawberry."""
    resolver = field.base_resolver
    if (resolver is None or not iscoroutinefunction(resolver.wrapped_func)
            or resolver.self_parameter or resolver.root_parameter or resolver.parent_parameter
            or field.is_subscription):
        return None
    # The only field extension allowed: the permission classes, raising (not failing
    # silently), checked synchronously, and not reshaping the arguments (`map_arguments`).
    if len(field.extensions) > 1:
        return None
    for extension in field.extensions:
        if (type(extension) is not PermissionExtension or extension.fail_silently
                or not extension.supports_sync
                or type(extension).map_arguments is not PermissionExtension.map_arguments):
            return None
    config, registry = converter.config, converter.scalar_registry
    plan = []
    for argument in field.arguments:
        type_ = argument.type
        if isinstance(type_, StrawberryMaybe):
            return None
        bare = type_.of_type if isinstance(type_, StrawberryOptional) else type_
        if bare is not GlobalID and (is_scalar(bare, registry) or has_enum_definition(bare)):
            how = AS_IS
        elif (has_object_definition(bare)
              and bare.__strawberry_definition__.from_input is not None):
            how = FROM_INPUT
        else:
            how = CONVERTED
        plan.append((config.name_converter.from_argument(argument), argument.python_name,
                     bare if how == FROM_INPUT else type_, how))
    return plan


def _resolver(field: StrawberryField, plan: list[tuple[str, str, Any, str]],
              converter: Any) -> Callable[..., Any]:
    config, registry = converter.config, converter.scalar_registry
    info_class = config.info_class
    permissions: tuple[BasePermission, ...] = tuple(
        p for extension in field.extensions for p in extension.permissions)
    function = field.base_resolver.wrapped_func  # type: ignore[union-attr]
    info_name = (field.base_resolver.info_parameter.name  # type: ignore[union-attr]
                 if field.base_resolver.info_parameter else None)  # type: ignore[union-attr]

    def resolve(source: Any, graphql_info: GraphQLResolveInfo, **values: Any) -> Any:
        info = info_class(_raw_info=graphql_info, _field=field)
        kwargs: dict[str, Any] = {}
        for name, python_name, type_, how in plan:
            if name in values:
                value = values[name]
                if how is AS_IS or value is None or value is UNSET:
                    kwargs[python_name] = value
                elif how is FROM_INPUT:
                    kwargs[python_name] = type_.__strawberry_definition__.from_input(
                        type_, value, InputContext(info=info, config=config,
                                                   scalar_registry=registry, path=(name,)))
                else:
                    kwargs[python_name] = convert_argument(value, type_, registry, config, info,
                                                           path=(name,))
        call = kwargs if info_name is None else {**kwargs, info_name: info}
        # Strawberry hands the permissions the resolver's arguments without the one named
        # "info" (an Info parameter named otherwise stays in).
        asked = kwargs if info_name == "info" else call
        for index, permission in enumerate(permissions):
            granted = permission.has_permission(source, info, **asked)
            if granted is not True:
                return _checked(permissions[index:], granted, source, info, asked,
                                lambda: function(**call))
        return function(**call)

    return resolve


async def _checked(permissions: tuple[BasePermission, ...], first: Any, source: Any, info: Any,
                   kwargs: dict[str, Any], run: Callable[[], Any]) -> Any:
    """The rest of `PermissionExtension.resolve_async` once a permission answered anything but
    True (ours raise instead of answering False): awaited if awaitable, only a bool decides,
    False is the permission's `on_unauthorized`."""
    for index, permission in enumerate(permissions):
        granted = await await_maybe(first if index == 0
                                    else permission.has_permission(source, info, **kwargs))
        if not isinstance(granted, bool):
            if iscoroutine(granted):
                granted.close()
            raise PermissionReturnedNonBooleanError(permission, granted)
        if not granted:
            return permission.on_unauthorized()
    return await run()
