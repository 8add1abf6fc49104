"""A one-root-field mutation's plan (`PlainListExecutor.execute_root_field`, README
Performance items 25 and 30): whether an operation is of that shape (`_root_field`), and what
running its field needs that depends on the schema, the document and the operation alone
(`_RootPlan`): the field's definition and node, how each argument is taken from the coerced
variables, and the completion of its value per member of a result union. The executor's side
is in schema/execution.py; tests/graphql/test_h5_root_field.py and test_h8_root_plan.py compare
both with graphql-core's way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLUnionType,
    OperationType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList, collect_fields
from graphql.execution.values import VariableValues, coerce_argument
from graphql.language import VariableNode
from graphql.pyutils import Path
from graphql.type import is_required_argument
from graphql.utilities.coerce_input_value import coerce_default_value
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.cast import get_strawberry_type_cast

from schema.plain_codegen import _NotPlain, _Tree

if TYPE_CHECKING:
    from schema.execution import PlainListExecutor

_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF


def _root_field(
    schema: Any, prepared: Any
) -> tuple[GraphQLObjectType, str, FieldDetailsList, _RootPlan] | None:
    """(root type, response name, field details, plan) of an operation that
    `PlainListExecutor.execute_root_field` runs, else None: a mutation without directives
    whose selection is one field of the Mutation type, without directives either, in a schema
    where graphql-core's `execute` runs at all (no @defer/@stream: it raises otherwise)."""
    operation = prepared.operation
    root_type = schema.mutation_type
    if (operation.operation is not OperationType.MUTATION or operation.directives
            or root_type is None
            or schema.get_directive("defer") or schema.get_directive("stream")):
        return None
    selections = operation.selection_set.selections
    if len(selections) != 1:
        return None
    node = selections[0]
    if (not isinstance(node, FieldNode) or node.directives
            or node.name.value not in root_type.fields):
        return None
    # No variables: with no directive at the root, the collection does not read them.
    grouped, new_defer_usages, _ = collect_fields(
        schema, prepared.fragments, VariableValues({}, {}), root_type, operation)
    if new_defer_usages or len(grouped) != 1:
        return None
    ((response_name, field_details_list),) = grouped.items()
    if (len(field_details_list) != 1 or field_details_list[0].node is not node
            or field_details_list[0].defer_usage is not None
            or field_details_list[0].fragment_variable_values is not None):
        return None
    field_def = root_type.fields[node.name.value]
    return root_type, response_name, field_details_list, _RootPlan(field_def, node)



class _Pending(tuple):  # noqa: SLOT001
    """An awaitable root field result and its info (None: execute_field's await_completed)."""

    __slots__ = ()


# How `_RootPlan.arguments` takes each argument of the root field.
_FROM_VARIABLE, _DEFAULT, _ABSENT, _GENERAL = range(4)


class _RootPlan:
    """What running one planned root field needs that depends on the (schema, document,
    operation) alone: the field's definition and node, how each argument is taken, and (once
    the first request has found them) the completions of the field's value per member type.

    Arguments, in the field's order, as graphql-core's `coerce_argument` takes them:
    - a variable (`$x`): the coerced variable's value, when it is there and not a null for
      a non-null argument (else `coerce_argument`: a default or graphql-core's error);
    - absent and not required: its default as `coerce_default_value` gives it (memoized
      by graphql-core, so the same object), or nothing when it has none;
    - anything else (a literal, a required absent argument, a default that does not
      coerce): `coerce_argument` itself, on every request.
    """

    __slots__ = ("arguments_plan", "completions", "field_def", "node")

    def __init__(self, field_def: GraphQLField, node: FieldNode) -> None:
        self.field_def = field_def
        self.node = node
        given = {argument.name.value: argument for argument in node.arguments or ()}
        plan: list[tuple[int, str, str, Any, Any]] = []
        for name, arg_def in field_def.args.items():
            out_name = arg_def.out_name or name
            argument = given.get(name)
            if argument is None:
                if is_required_argument(arg_def):
                    plan.append((_GENERAL, name, out_name, arg_def, argument))
                    continue
                try:
                    default = coerce_default_value(arg_def)
                except Exception:  # noqa: BLE001 - graphql-core reports it, per request
                    plan.append((_GENERAL, name, out_name, arg_def, argument))
                    continue
                if default is Undefined:
                    plan.append((_ABSENT, name, out_name, arg_def, argument))
                else:
                    plan.append((_DEFAULT, name, out_name, arg_def, default))
            elif isinstance(argument.value, VariableNode):
                plan.append((_FROM_VARIABLE, argument.value.name.value, out_name,
                             isinstance(arg_def.type, GraphQLNonNull), (name, arg_def, argument)))
            else:
                plan.append((_GENERAL, name, out_name, arg_def, argument))
        self.arguments_plan = tuple(plan)
        # id(member's Strawberry definition) -> (member, its tree plan); None when the
        # field's value is not completed here (see `complete`); False: not looked at yet.
        self.completions: dict[int, tuple[GraphQLObjectType, _Tree]] | None | bool = False

    def arguments(self, variable_values: Any, hide_suggestions: bool) -> dict[str, Any]:
        """`get_argument_values(field_def, node, variable_values, None, hide_suggestions)`."""
        coerced_values: dict[str, Any] = {}
        if not self.field_def.args:
            return coerced_values
        coerced = variable_values.coerced
        for kind, name, out_name, extra, detail in self.arguments_plan:
            if kind == _FROM_VARIABLE:
                value = coerced.get(name, Undefined)
                if value is not Undefined and not (value is None and extra):
                    coerced_values[out_name] = value
                    continue
                arg_name, arg_def, argument = detail
                coerce_argument(coerced_values, self.node, arg_name, arg_def, argument,
                                variable_values, None, hide_suggestions)
            elif kind == _DEFAULT:
                coerced_values[out_name] = detail
            elif kind == _GENERAL:
                coerce_argument(coerced_values, self.node, name, extra, detail,
                                variable_values, None, hide_suggestions)
        return coerced_values

    def complete(self, executor: PlainListExecutor, field_details_list: FieldDetailsList,
                 info: GraphQLResolveInfo, path: Path, resolved: Any) -> Any:
        """`executor.complete_value(field type, …, resolved)`. For a non-null union whose
        member `complete_abstract_value` finds from the value's definition and whose
        selection is a plain subtree in a document without directives, that member's tree
        (what `complete_object_value` would run) straight away; anything else, and a tree
        that gives up, the general path (which then finds the same member and tree)."""
        completions = self.completions
        if completions is False:
            completions = self.completions = self._completions(executor, field_details_list)
        if completions and resolved is not None and not isinstance(resolved, Exception):
            definition = getattr(resolved, "__strawberry_definition__", None)
            entry = completions.get(id(definition))
            if (entry is not None and entry[0].extensions[_BACKREF] is definition
                    and get_strawberry_type_cast(resolved) is None
                    and not (executor.middleware_manager
                             and executor.middleware_manager.middlewares)):
                try:
                    return execution._complete_tree(entry[1], resolved, info, executor.is_awaitable)
                except _NotPlain:
                    pass
        return executor.complete_value(self.field_def.type, field_details_list, info, path,
                                       resolved, None)

    def _completions(
        self, executor: PlainListExecutor, field_details_list: FieldDetailsList
    ) -> dict[int, tuple[GraphQLObjectType, _Tree]] | None:
        return_type = self.field_def.type
        if (not isinstance(return_type, GraphQLNonNull)
                or not isinstance(return_type.of_type, GraphQLUnionType)
                or executor._document_key() is None):  # selections read the variables
            return None
        members = execution._union_members(return_type.of_type)
        if not members:
            return None
        completions: dict[int, tuple[GraphQLObjectType, _Tree]] = {}
        for definition_id, member in members.items():
            tree = executor._tree_plan(member, field_details_list)
            if tree is not None:
                completions[definition_id] = (member, tree)
        return completions


# The executor's module reads this one's names at import; its helpers (`_complete_tree`,
# `_union_members`) are read from it when a request runs (tests count them there).
from schema import execution  # noqa: E402
