"""How operations execute: graphql-core's executor, with one shortcut for lists of plain objects.

A resume context answers ~30 artifacts × ~20 fields. graphql-core completes every one of those
~600 fields on its own: a resolve-info object, the resolver, an awaitable check and a leaf
coercion per field (~4 µs each, most of a GraphQL read's CPU). Most of those fields are plain
attributes: Strawberry marks a field with no resolver and no extension (permissions are
extensions) as "basic"; its value is `getattr(source, python_name)`, and graphql-core's part is
to coerce it with the leaf type's `coerce_output_value`.

`PlainListExecutor.complete_list_value` completes a list of objects whose selected fields are
ALL basic leaf fields (or `__typename`) in one loop: the same getattr, the same coercion, the
same `is_type_of` check, into dicts with the same keys in the same order. Anything else keeps
the general path: a selected field with a resolver, arguments or an object type; `@defer` or
`@stream`; field middleware (an extension with a `resolve` hook); an item that is not a list element of the declared type, a null
where the schema says non-null, a value the scalar refuses (the general path then reports the
error at its exact path, as before). tests/graphql/test_plain_lists.py compares answers of both
paths (aliases, fragments, @skip/@include, __typename, nulls, errors).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from graphql.type.scalars import serialize_boolean, serialize_id, serialize_int, serialize_string
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF

# Values that are never awaitable nor errors: the general path's checks are skipped for them.
_SETTLED = frozenset({str, int, float, bool, dict, list, datetime, date, uuid.UUID, Decimal})

# One selected field of a plain list item: response key, attribute name (None: __typename),
# the leaf type's coercion (or the type name for __typename), whether null is refused, and the
# type whose values the coercion returns unchanged (None: always call it).
_Entry = tuple[str, str | None, Any, bool, type | None]


class _NotPlain(Exception):
    """A list the shortcut does not complete: the general path does, errors included."""


def _is_basic(field_def: Any) -> str | None:
    """The attribute a basic Strawberry field reads, or None when the field is not basic."""
    resolve = field_def.resolve
    if resolve is None or resolve.__name__ != "_get_basic_result":
        return None  # a resolver, an extension (permissions) or an exception handler
    definition = field_def.extensions.get(_BACKREF) if field_def.extensions else None
    if definition is None or definition.base_resolver or definition.extensions:
        return None
    return definition.python_name


class PlainListExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with the plain-list shortcut (see the module text)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (object type, id(field details)) -> (field details kept alive, plan or None): the
        # same memo graphql-core keeps for collected subfields, per operation.
        self._plain_plans: dict[tuple[GraphQLObjectType, int], tuple[Any, list[_Entry] | None]] = {}

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        if isinstance(response, ExecutionResult):  # done: no incremental work still runs
            # graphql-core's executor refers to itself (`async_helpers` holds two of its bound
            # methods), and through itself to everything the operation touched: the context,
            # its loaders and every row they hold. Left as it is, each answered operation is
            # a reference cycle (~300 objects for a resume context) that only the cyclic
            # collector frees, in pauses of 35-100 ms under load (gen1, ~50,000 objects each;
            # the GraphQL read's p99). Breaking it here lets reference counting free the
            # operation at once; nothing reads the helpers once the response is built.
            self.async_helpers = None  # type: ignore[assignment]
            self._plain_plans.clear()
        return response

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        item_type = return_type.of_type
        non_null = isinstance(item_type, GraphQLNonNull)
        object_type = item_type.of_type if non_null else item_type
        if (
            isinstance(object_type, GraphQLObjectType)
            and isinstance(result, (list, tuple))
            and not (self.middleware_manager and self.middleware_manager.middlewares)
        ):
            plan = self._plain_plan(object_type, field_details_list)
            if plan is not None and self.get_stream_usage(field_details_list, path) is None:
                try:
                    return _complete_plain(
                        plan, result, non_null, object_type, info, self.is_awaitable
                    )
                except _NotPlain:
                    pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _plain_plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> list[_Entry] | None:
        key = (object_type, id(field_details_list))
        cached = self._plain_plans.get(key)
        if cached is not None:
            return cached[1]
        plan = self._build_plan(object_type, field_details_list)
        self._plain_plans[key] = (field_details_list, plan)
        return plan

    def _build_plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> list[_Entry] | None:
        grouped, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        plan: list[_Entry] = []
        for response_key, details in grouped.items():
            for detail in details:
                if detail.defer_usage is not None:
                    return None
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                plan.append((response_key, None, object_type.name, True, None))
                continue
            if node.arguments:
                return None
            field_def = self.schema.get_field(object_type, name)
            if field_def is None or field_def.args:
                return None
            attribute = _is_basic(field_def)
            if attribute is None:
                return None
            field_type = field_def.type
            required = isinstance(field_type, GraphQLNonNull)
            leaf = field_type.of_type if required else field_type
            if not is_leaf_type(leaf):
                return None
            coerce = _coercion(leaf)
            plan.append((response_key, attribute, coerce, required, _UNCHANGED.get(coerce)))
        return plan


def _coercion(leaf: GraphQLLeafType) -> Any:
    return leaf.coerce_output_value


# graphql-core's own coercions that return a value of exactly this type unchanged (an Int
# only within 32 bits): for such a value the call is skipped, its answer is the value itself.
_UNCHANGED = {
    serialize_string: str, serialize_id: str, serialize_boolean: bool, serialize_int: int,
}
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _complete_plain(
    plan: list[_Entry], items: list[Any] | tuple[Any, ...], non_null: bool,
    object_type: GraphQLObjectType, info: GraphQLResolveInfo, is_awaitable: Any,
) -> list[Any]:
    is_type_of = object_type.is_type_of
    completed: list[Any] = []
    append = completed.append
    for item in items:
        if item is None:
            if non_null:
                raise _NotPlain
            append(None)
            continue
        if is_type_of is not None and is_type_of(item, info) is not True:
            raise _NotPlain  # refused, or an awaitable answer: the general path decides
        answer: dict[str, Any] = {}
        for response_key, attribute, coerce, required, unchanged in plan:
            if attribute is None:
                answer[response_key] = coerce  # __typename
                continue
            value = getattr(item, attribute)
            if type(value) is unchanged and (unchanged is not int or _INT_MIN <= value <= _INT_MAX):
                answer[response_key] = value
                continue
            if value is None or value is Undefined:
                if required:
                    raise _NotPlain
                answer[response_key] = None
                continue
            if type(value) not in _SETTLED and (
                isinstance(value, Exception) or is_awaitable(value)
            ):
                raise _NotPlain
            try:
                coerced = coerce(value)
            except Exception:
                raise _NotPlain from None
            if coerced is None or coerced is Undefined:
                raise _NotPlain
            answer[response_key] = coerced
        append(answer)
    return completed
