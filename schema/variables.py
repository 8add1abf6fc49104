"""Variable coercion compiled once per operation, for valid variables only.

graphql-core's `Executor.build` finds the operation and its fragments in the document, looks up
each variable's signature (`get_variable_signature`: a type lookup from the AST), walks the
value once to bound its nesting (`input_is_nested_too_deeply`) and coerces it with the
interpreted `coerce_input_value` (type tests at every level): ~35 µs of a registerArtifact
mutation, for work that only the values change. `PreparedOperation` keeps what depends on the
(schema, document, operation name) alone, and coerces each variable with a function built once
from its type, which makes the same calls in the same order (leaf `coerce_input_value`, input
object `out_type`, the same defaults memoized by graphql-core's `coerce_default_value`).

It only ever answers valid variables: anything it does not take (an error in the operation or
a fragment, fragment variables, a @oneOf input, a recursive input type, a default value that
does not coerce) makes `prepare` answer None, and a value that does not coerce raises
`NotCoerced`. The caller then runs graphql-core's own `build`, which re-coerces and reports the
exact errors (messages, locations, paths, the error limit). tests/graphql/test_h1_variables.py
compares both on many valid and invalid inputs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    OperationDefinitionNode,
)
from graphql.execution.executor import FragmentDetails
from graphql.execution.get_variable_signature import get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource
from graphql.language.parser import MAX_NESTING_DEPTH
from graphql.pyutils import Undefined, is_iterable
from graphql.type import is_leaf_type, is_required_input_field
from graphql.utilities.coerce_input_value import coerce_default_value

MAX_PREPARED = 256


class NotCoerced(Exception):  # noqa: N818 - a signal, not an error
    """A value the compiled coercion does not take: graphql-core's path decides."""


Coercer = Callable[[Any], Any]


def _coercer(type_: GraphQLInputType, depth: int, seen: frozenset[str]) -> Coercer | None:
    """`coerce_input_value(value, type_)` for a value it accepts; NotCoerced where it would
    answer Undefined. None for a type this does not compile (recursive, @oneOf, too deep)."""
    if depth > MAX_NESTING_DEPTH:
        return None  # input_is_nested_too_deeply could say yes: graphql-core's path
    if isinstance(type_, GraphQLNonNull):
        inner = _coercer(type_.of_type, depth, seen)
        if inner is None:
            return None

        def non_null(value: Any) -> Any:
            if value is None or value is Undefined:
                raise NotCoerced
            return inner(value)
        return non_null
    if isinstance(type_, GraphQLList):
        item = _coercer(type_.of_type, depth + 1, seen)
        if item is None:
            return None

        def list_of(value: Any) -> Any:
            if value is None or value is Undefined:
                return None
            if not is_iterable(value):
                return [item(value)]  # a non-list value is a list of one
            return [item(v) for v in value]
        return list_of
    if isinstance(type_, GraphQLInputObjectType):
        return _object_coercer(type_, depth, seen)
    if is_leaf_type(type_):
        coerce = type_.coerce_input_value

        def leaf(value: Any) -> Any:
            if value is None or value is Undefined:
                return None
            try:
                return coerce(value)
            except Exception as error:  # noqa: BLE001 - as graphql-core: any error refuses
                raise NotCoerced from error
        return leaf
    return None


def _object_coercer(
    type_: GraphQLInputObjectType, depth: int, seen: frozenset[str]
) -> Coercer | None:
    if type_.is_one_of or type_.name in seen:
        return None
    seen = seen | {type_.name}
    fields: list[tuple[str, str, Coercer | None, bool, Any]] = []
    for name, field in type_.fields.items():
        coerce = _coercer(field.type, depth + 1, seen)
        if coerce is None:
            return None
        required = is_required_input_field(field)
        default: Any = Undefined
        if not required:
            try:
                default = coerce_default_value(field)  # memoized on the field by graphql-core
            except Exception:  # noqa: BLE001 - an invalid default: graphql-core reports it
                return None
        fields.append((name, field.out_name or name, coerce, required, default))
    names = frozenset(type_.fields)
    out_type = type_.out_type

    def input_object(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if not isinstance(value, dict):
            raise NotCoerced
        for key, field_value in value.items():
            if key not in names and field_value is not Undefined:
                raise NotCoerced  # an unknown field
        coerced: dict[str, Any] = {}
        for name, out_name, coerce, required, default in fields:
            field_value = value.get(name, Undefined)
            if field_value is Undefined:
                if required:
                    raise NotCoerced
                if default is not Undefined:
                    coerced[out_name] = default
            else:
                coerced[out_name] = coerce(field_value)  # type: ignore[misc]
        return out_type(coerced)
    return input_object


class PreparedOperation:
    """What `Executor.build` derives from the schema, the document and the operation name."""

    __slots__ = ("document", "fragment_definitions", "fragments", "operation", "root_field",
                 "schema", "variables")

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        fragment_definitions: dict[str, FragmentDefinitionNode],
        variables: list[tuple[str, Any, Coercer]],
    ) -> None:
        self.schema = schema  # kept: the cache key holds ids
        self.document = document
        self.operation = operation
        self.fragment_definitions = fragment_definitions
        self.fragments = {name: FragmentDetails(definition, None)
                          for name, definition in fragment_definitions.items()}
        self.variables = variables
        # The operation's one root field, if it is executed without graphql-core's operation
        # machinery (schema/execution.py `_root_field`); False until looked at.
        self.root_field: Any = False

    def coerce(self, inputs: dict[str, Any]) -> VariableValues:
        """`get_variable_values` for valid inputs; NotCoerced otherwise."""
        sources: dict[str, VariableValueSource] = {}
        coerced: dict[str, Any] = {}
        for name, signature, coerce in self.variables:
            value = inputs.get(name, Undefined)
            if value is Undefined:
                sources[name] = VariableValueSource(signature)
                if signature.default is not None:
                    # Memoized on the signature's default, which this operation keeps.
                    default = coerce_default_value(signature)
                    if default is not Undefined:
                        coerced[name] = default
                    continue
                if not isinstance(signature.type, GraphQLNonNull):
                    continue  # a nullable variable not provided is omitted
            else:
                sources[name] = VariableValueSource(signature, value)
            coerced[name] = coerce(value)
        return VariableValues(sources, coerced)


def _prepare(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> PreparedOperation | None:
    operation: OperationDefinitionNode | None = None
    fragment_definitions: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            if operation_name is None:
                if operation is not None:
                    return None  # "Must provide operation name…": graphql-core's answer
                operation = definition
            elif definition.name and definition.name.value == operation_name:
                operation = definition
        elif isinstance(definition, FragmentDefinitionNode):
            if definition.variable_definitions:
                return None  # fragment arguments: graphql-core's signatures and errors
            fragment_definitions[definition.name.value] = definition
    if operation is None:
        return None
    variables: list[tuple[str, Any, Coercer]] = []
    for var_def in operation.variable_definitions or ():
        signature = get_variable_signature(schema, var_def)
        if isinstance(signature, GraphQLError):
            return None
        if signature.default is not None:
            try:
                coerce_default_value(signature)
            except Exception:  # noqa: BLE001 - an invalid default: graphql-core reports it
                return None
        coerce = _coercer(signature.type, 0, frozenset())
        if coerce is None:
            return None
        variables.append((signature.name, signature, coerce))
    return PreparedOperation(schema, document, operation, fragment_definitions, variables)


# (id(schema), id(document), operation name) -> PreparedOperation or None, LRU-bounded like
# the parser cache that hands back the same DocumentNode for the same text; the entry keeps
# the schema and the document alive, so their ids cannot be reused while it is kept.
_PREPARED: OrderedDict[tuple[int, int, str | None],
                       tuple[GraphQLSchema, DocumentNode, PreparedOperation | None]] = OrderedDict()


def prepare(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> PreparedOperation | None:
    key = (id(schema), id(document), operation_name)
    entry = _PREPARED.get(key)
    if entry is not None and entry[0] is schema and entry[1] is document:
        _PREPARED.move_to_end(key)
        return entry[2]
    prepared = _prepare(schema, document, operation_name)
    _PREPARED[key] = (schema, document, prepared)
    while len(_PREPARED) > MAX_PREPARED:
        _PREPARED.popitem(last=False)
    return prepared
