"""How operations execute: graphql-core's executor, with one shortcut for lists of plain objects.

A resume context answers ~30 artifacts × ~20 fields. graphql-core completes every one of those
~600 fields on its own: a resolve-info object, the resolver, an awaitable check and a leaf
coercion per field (~4 µs each, most of a GraphQL read's CPU). Most of those fields are plain
attributes: Strawberry marks a field with no resolver and no extension (permissions are
extensions) as "basic"; its value is `getattr(source, python_name)`, and graphql-core's part is
to coerce it with the leaf type's `coerce_output_value`.

`PlainListExecutor.complete_list_value` completes a list of objects whose selected fields are
ALL basic leaf fields (or `__typename`) in one loop: the same getattr, the same coercion, the
same `is_type_of` check, into dicts with the same keys in the same order. The loop is a function
generated per plan shape (straight-line code per field, see `_generate`), and values already
in their output form skip their coercion. Anything else keeps the general path: a selected
field with a resolver, arguments or an object type; `@defer` or `@stream`; field middleware (an
extension with a `resolve` hook); an item that is not a list element of the declared type, a
null where the schema says non-null, a value the scalar refuses, an attribute or an
`is_type_of` that raises (the general path then reports the error at its exact path, as
before). tests/graphql/test_plain_lists.py compares answers of both
paths (aliases, fragments, @skip/@include, __typename, nulls, errors, every scalar kind);
tests/graphql/test_plain_codegen.py compares the generated functions with the interpreted loop.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from keyword import iskeyword
from typing import Any

from graphql import (
    ExecutionResult,
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
from strawberry.scalars import JSON
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.schema.types import base_scalars
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY

_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF

# Values that are never awaitable nor errors: the general path's checks are skipped for them.
_SETTLED = frozenset({str, int, float, bool, dict, list, datetime, date, uuid.UUID, Decimal})

# One selected field of a plain list item: response key, attribute name (None: __typename),
# the leaf type's coercion (or the type name for __typename), whether null is refused.
_Entry = tuple[str, str | None, Any, bool]


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
        self._plain_plans: dict[tuple[GraphQLObjectType, int], tuple[Any, _Plan | None]] = {}

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
    ) -> _Plan | None:
        key = (object_type, id(field_details_list))
        cached = self._plain_plans.get(key)
        if cached is not None:
            return cached[1]
        plan = self._build_plan(object_type, field_details_list)
        self._plain_plans[key] = (field_details_list, plan)
        return plan

    def _build_plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> _Plan | None:
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
                plan.append((response_key, None, object_type.name, True))
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
            plan.append((response_key, attribute, leaf.coerce_output_value, required))
        return _Plan.of(plan)


# --- One function per plan, generated (graphql-jit's idea) -------------------------------------
#
# An interpreted loop over the plan paid, per field, a tuple unpacking, a getattr by name and a
# coercion call whose answer is most often the value itself. Each plan's shape (response keys,
# attributes, coercion kinds, nullability) gets a function instead: one local per field, the
# checks for values already in their output form inline, `_slow` (the general rules) only when
# needed, and the item's dict built at once. Only response keys, type names (exact `str`s,
# written with repr()) and attribute names that are plain ASCII identifiers (else a getattr
# with the name as a global of the function) become source; coercions are arguments, so the
# cache keeps no schema alive and answers for every schema with the same shape.

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_UUID_TEXT = "h = '%032x' % {v}.int\n{v} = f'{{h[:8]}}-{{h[8:12]}}-{{h[12:16]}}-{{h[16:20]}}-{{h[20:]}}'"

# Coercion kind -> (condition on the value `{v}`, its answer: None for the value itself), tried
# in order before the general rules. Each answer is what the coercion itself returns for such
# a value: graphql-core's serializers return an exact str/bool and an int within 32 bits as
# they are and write a UUID with str() (an ID that is not a builtin); `int`/`str` as coercions
# (BigInt, Strawberry's UUID) return an exact int/str unchanged (str of a UUID: UUID.__str__,
# inlined in _UUID_TEXT); Strawberry's Date/DateTime/Time call the value's `isoformat`; JSON is
# the identity (and a value of a _SETTLED type is neither awaitable nor an error).
_FAST: dict[str, tuple[tuple[str, str | None], ...]] = {
    "String": (("type({v}) is str", None),),
    "ID": (("type({v}) is str", None), ("type({v}) is UUID", _UUID_TEXT)),
    "Int": ((f"type({{v}}) is int and {_INT_MIN} <= {{v}} <= {_INT_MAX}", None),),
    "Boolean": (("type({v}) is bool", None),),
    "int": (("type({v}) is int", None),),
    "str": (("type({v}) is str", None), ("type({v}) is UUID", _UUID_TEXT)),
    "isoformat": (
        ("type({v}) is datetime", "{v} = datetime_isoformat({v})"),
        ("type({v}) is date", "{v} = date_isoformat({v})"),
    ),
    "identity": (("type({v}) in SETTLED", None),),
    "call": (),
}


# The coercions _FAST knows, by id (a coercion may be any callable, hashable or not; these are
# kept alive by their modules): graphql-core's, the builtins, and Strawberry's own isoformat
# (one `methodcaller("isoformat")` for Date, DateTime and Time) and JSON (`lambda v: v`).
_KNOWN_KINDS = {
    id(serialize_string): "String", id(serialize_id): "ID", id(serialize_int): "Int",
    id(serialize_boolean): "Boolean", id(int): "int", id(str): "str",
    id(base_scalars.isoformat): "isoformat",
    id(DEFAULT_SCALAR_REGISTRY[JSON].serialize): "identity",
}


def _kind(coerce: Any) -> str:
    """Which of _FAST's rules the coercion follows ("call": none, always call it)."""
    return _KNOWN_KINDS.get(id(coerce), "call")


def _slow(value: Any, coerce: Any, required: bool, is_awaitable: Any) -> Any:
    """The general rules for one field's value (the interpreted loop's, unchanged)."""
    if value is None or value is Undefined:
        if required:
            raise _NotPlain
        return None
    if type(value) not in _SETTLED and (isinstance(value, Exception) or is_awaitable(value)):
        raise _NotPlain
    try:
        coerced = coerce(value)
    except Exception:
        raise _NotPlain from None
    if coerced is None or coerced is Undefined:
        raise _NotPlain
    return coerced


# (response key, attribute or None for __typename, kind or type name, whether null is refused)
_Signature = tuple[tuple[str, str | None, str, bool], ...]


@lru_cache(maxsize=256)  # shapes, not operations: a fixed set of documents fits
def _generate(signature: _Signature) -> Any:
    """The completion function for one plan shape (source in its `__source__`)."""
    namespace: dict[str, Any] = {
        "NotPlain": _NotPlain, "slow": _slow, "SETTLED": _SETTLED, "UUID": uuid.UUID,
        "datetime": datetime, "date": date,
        "datetime_isoformat": datetime.isoformat, "date_isoformat": date.isoformat,
    }
    body: list[str] = []
    entries: list[str] = []
    for i, (key, attribute, kind, required) in enumerate(signature):
        if attribute is None:
            entries.append(f"{key!r}: {kind!r}")
            continue
        v = f"v{i}"
        entries.append(f"{key!r}: {v}")
        if (
            type(attribute) is str and attribute.isascii() and attribute.isidentifier()
            and not iskeyword(attribute)
        ):
            body.append(f"{v} = item.{attribute}")
        else:
            namespace[f"A{i}"] = attribute
            body.append(f"{v} = getattr(item, A{i})")
        slow = f"{v} = slow({v}, C{i}, {bool(required)}, is_awaitable)"
        branches = _FAST[kind]
        for n, (condition, answer) in enumerate(branches):
            body.append(f"{'elif' if n else 'if'} {condition.format(v=v)}:")
            body += ["    " + line for line in (answer or "pass").format(v=v).splitlines()]
        if required:
            body += ["else:", "    " + slow] if branches else [slow]
        else:
            body += [f"{'elif' if branches else 'if'} {v} is not None:", "    " + slow]
    coerces = "".join(f"C{i}, " for i in range(len(signature)))
    source = "\n".join([
        "def complete(items, non_null, is_type_of, info, is_awaitable, coerces):",
        f"    ({coerces}) = coerces",
        "    completed = []",
        "    append = completed.append",
        "    for item in items:",
        "        if item is None:",
        "            if non_null:",
        "                raise NotPlain",
        "            append(None)",
        "            continue",
        "        try:",
        "            if is_type_of is not None and is_type_of(item, info) is not True:",
        "                raise NotPlain  # refused, or an awaitable answer: the general path decides",
        *("            " + line for line in body),
        "        except Exception:  # a read or a coercion failed: the general path reports it",
        "            raise NotPlain from None",
        "        append({" + ", ".join(entries) + "})",
        "    return completed",
    ])
    exec(compile(source, "<plain list completion>", "exec"), namespace)  # noqa: S102
    complete = namespace["complete"]
    complete.__source__ = source
    return complete


class _Plan:
    """A plan's entries, their coercions and the generated function that completes its items."""

    __slots__ = ("coerces", "complete", "entries")

    def __init__(self, entries: list[_Entry], complete: Any) -> None:
        self.entries = entries
        self.coerces = tuple(coerce for _, _, coerce, _ in entries)
        self.complete = complete

    @classmethod
    def of(cls, entries: list[_Entry]) -> _Plan | None:
        """The plan, or None (the general path) for a response key or type name that is not
        an exact str, the only kind written into source."""
        signature = []
        for key, attribute, coerce, required in entries:
            if type(key) is not str or (attribute is None and type(coerce) is not str):
                return None
            kind = coerce if attribute is None else _kind(coerce)
            signature.append((key, attribute, kind, required))
        return cls(entries, _generate(tuple(signature)))


def _complete_plain(
    plan: _Plan, items: list[Any] | tuple[Any, ...], non_null: bool,
    object_type: GraphQLObjectType, info: GraphQLResolveInfo, is_awaitable: Any,
) -> list[Any]:
    return plan.complete(items, non_null, object_type.is_type_of, info, is_awaitable, plan.coerces)
