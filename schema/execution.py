"""How operations execute: graphql-core's executor, with shortcuts for plain objects and lists.

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

`complete_object_value` does the same for a whole "plain subtree": an object whose selected
fields are all basic fields that are leaves, lists of leaves, plain objects or lists of plain
objects, at any depth (a resume context, its artifacts, variables and state configuration) is
completed by one generated function (`_generate_tree`), with the same rules at every level
(null and non-null, `is_type_of`, coercions, key order) and the same giving up: a resolver or
arguments anywhere, an interface or a union, a directive other than @skip/@include, an
`is_type_of` of a type's own below the root (it may read its field's resolve info, which the
subtree has not), a value of another kind (an error, an awaitable, an iterable that is not a
list or tuple). A tree plan is per operation, and shared by the operations of one parsed
document when the document has no directive (then its selections do not depend on the
variables). tests/graphql/test_plain_objects.py compares answers with the general path.

Two per-operation costs are also prepared once: `build` finds the operation and coerces the
variables with functions compiled per (document, operation) (schema/variables.py; invalid
variables take graphql-core's `build` for its errors; tests/graphql/test_h1_variables.py), and
`complete_abstract_value` finds a union's member from the value's Strawberry definition in a
map built once per union (`_union_members`; anything else takes Strawberry's resolver;
tests/graphql/test_h1_unions.py).

A mutation of one root field (a registerArtifact) skips graphql-core's operation machinery:
`execute_root_field` builds the executor as `build` does and runs the field through
graphql-core's own `execute_field`, with the root's `FieldDetails` collected once per
(document, operation); anything else (several root fields, directives, fragments at the root,
variables that do not coerce) is graphql-core's `execute`. With no abort signal,
`with_abort_signal` hands back the awaitable itself. tests/graphql/test_h5_root_field.py
compares both paths. The field runs from a plan kept with the prepared operation
(`_RootPlan`, schema/root_field.py): its definition and node, its arguments taken from the
coerced variables as graphql-core's `coerce_argument` takes them (`coerce_argument` itself for anything else),
graphql-core's `complete_awaitable_value` inline (one coroutine less), and a non-null union's
value completed by its member's plain-subtree function at once when the document has no
directive (anything else: the general completion). tests/graphql/test_h8_root_plan.py.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLAbstractType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLUnionType,
    Undefined,
    default_field_resolver,
    default_type_resolver,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.execute import UNEXPECTED_MULTIPLE_PAYLOADS
from graphql.execution.middleware import MiddlewareManager
from graphql.language import BREAK, FragmentSpreadNode, Visitor, visit
from graphql.pyutils import Path
from graphql.type import assert_valid_schema
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.cast import get_strawberry_type_cast

from schema.plain_codegen import (  # noqa: F401 (the tests reach the generator through here)
    _SETTLED,
    TreeNode,
    _Entry,
    _generate,
    _generate_tree,
    _kind,
    _NotPlain,
    _Plan,
    _Tree,
)
from schema.root_field import _Pending, _RootPlan, _root_field  # noqa: F401 (tests)
from schema.variables import NotCoerced, prepare

_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF

# A plain subtree deeper than this, or with more fields, is left to the general path: the
# generated source stays small, and far from Python's limits on nested blocks (20).
MAX_TREE_DEPTH = 8
MAX_TREE_FIELDS = 400

# Strawberry's own `is_type_of` (an isinstance check that never reads its `info`): the only
# one a nested object of a subtree may have, as the subtree has no resolve info of its fields.
_STRAWBERRY_IS_TYPE_OF = "GraphQLCoreConverter.from_object.<locals>._get_is_type_of.<locals>.is_type_of"


def _is_basic(field_def: Any) -> str | None:
    """The attribute a basic Strawberry field reads, or None when the field is not basic."""
    resolve = field_def.resolve
    if resolve is None or resolve.__name__ != "_get_basic_result":
        return None  # a resolver, an extension (permissions) or an exception handler
    definition = field_def.extensions.get(_BACKREF) if field_def.extensions else None
    if definition is None or definition.base_resolver or definition.extensions:
        return None
    if definition.default_resolver is not getattr:  # StrawberryConfig(default_resolver=…)
        return None
    return definition.python_name


# Tree plans shared by the operations of one document (see _document_key), and which documents
# qualify; both bounded (the oldest entry goes), both keyed by identities kept alive in the entry.
MAX_SHARED_TREES = 256
_SHARED_TREES: dict[tuple[int, ...], tuple[Any, _Tree | None]] = {}
_STATIC_DOCUMENTS: dict[tuple[int, ...], tuple[Any, bool]] = {}


class _FindsDirectives(Visitor):
    found = False

    def enter_directive(self, *_: Any) -> Any:
        self.found = True
        return BREAK

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> Any:
        if getattr(node, "arguments", None):  # fragment arguments: variables of their own
            self.found = True
            return BREAK
        return None


def _has_directives(definitions: tuple[Any, ...]) -> bool:
    for definition in definitions:
        visitor = _FindsDirectives()
        visit(definition, visitor)
        if visitor.found:
            return True
    return False


# Strawberry's type resolver of a union (StrawberryUnion.get_type_resolver).
_STRAWBERRY_UNION_RESOLVER = "StrawberryUnion.get_type_resolver.<locals>._resolve_union_type"

# Per union type: Strawberry object definition -> the member it resolves to (see
# `_union_members`), or None when the union's types are resolved otherwise. Unions are few and
# live as long as the schema: the entry keeps the union alive, so its id is not reused.
_UNION_MEMBERS: dict[int, tuple[GraphQLUnionType, dict[int, GraphQLObjectType] | None]] = {}


def _union_members(union: GraphQLUnionType) -> dict[int, GraphQLObjectType] | None:
    """The members that Strawberry's `_resolve_union_type` picks from a value's definition
    alone: an uncast instance of a Strawberry type whose definition is a member's (a
    subclass inherits it) resolves to that member, the first in the union's order with that
    definition. Members whose definition is generic, or the specialization of another
    member's, are left out (Strawberry then compares field types): their values, like
    anything not in the map (a value of another type, a cast one, a plain object answered by
    `is_type_of`, a type not in the union: Strawberry's errors), take Strawberry's resolver."""
    entry = _UNION_MEMBERS.get(id(union))
    if entry is not None and entry[0] is union:
        return entry[1]
    members: dict[int, GraphQLObjectType] | None = None
    resolver = union.resolve_type
    if getattr(resolver, "__qualname__", None) == _STRAWBERRY_UNION_RESOLVER:
        definitions = [(member, (member.extensions or {}).get(_BACKREF)) for member in union.types]
        members = {}
        for member, definition in definitions:
            if not isinstance(definition, StrawberryObjectDefinition):
                return _keep_union(union, None)
            if definition.is_graphql_generic or definition.concrete_of is not None:
                continue
            # By identity (Strawberry compares definitions with `is`); the member keeps its
            # definition alive, so the id is not reused.
            members.setdefault(id(definition), member)
    return _keep_union(union, members)


def _keep_union(
    union: GraphQLUnionType, members: dict[int, GraphQLObjectType] | None
) -> dict[int, GraphQLObjectType] | None:
    _UNION_MEMBERS[id(union)] = (union, members)
    return members


def _ignores_info(is_type_of: Any) -> bool:
    return (
        getattr(is_type_of, "__qualname__", None) == _STRAWBERRY_IS_TYPE_OF
        and getattr(is_type_of, "__module__", None) == "strawberry.schema.schema_converter"
    )


class PlainListExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with the plain-list shortcut (see the module text)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (object type, id(field details)) -> (field details kept alive, plan or None): the
        # same memo graphql-core keeps for collected subfields, per operation.
        # Lists of flat objects (_Plan) and plain subtrees (_Tree, a key with "tree").
        self._plain_plans: dict[tuple[Any, ...], tuple[Any, _Plan | _Tree | None]] = {}
        self._document: tuple[int, ...] | None | bool = False  # not looked at yet

    @classmethod
    def build(  # type: ignore[override]  # noqa: PLR0913, PLR0917
        cls,
        schema: Any,
        document: Any,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        field_resolver: Any = None,
        type_resolver: Any = None,
        subscribe_field_resolver: Any = None,
        max_coercion_errors: int = 50,
        enable_early_execution: bool = False,
        middleware: Any = None,
        is_awaitable: Any = None,
        is_async_iterable: Any = None,
        hide_suggestions: bool = False,
        abort_signal: Any = None,
        hooks: Any = None,
        **custom_args: Any,
    ) -> Any:
        """graphql-core's `Executor.build`, with the operation, its fragments and the
        variables' coercion prepared once per (schema, document, operation name)
        (schema/variables.py). Anything the prepared path does not take (an invalid request,
        fragment arguments, a value that does not coerce, a middleware list) is graphql-core's
        own `build`, which then gives its exact errors."""
        prepared = cls._prepared(schema, document, operation_name, middleware)
        if prepared is not None:
            try:
                variable_values = prepared.coerce(raw_variable_values or {})
            except NotCoerced:
                pass
            else:
                return cls._from_prepared(
                    schema, prepared, root_value, context_value, variable_values,
                    field_resolver, type_resolver, subscribe_field_resolver,
                    enable_early_execution, middleware, is_awaitable, is_async_iterable,
                    hide_suggestions=hide_suggestions, abort_signal=abort_signal, hooks=hooks,
                    **custom_args,
                )
        return super().build(
            schema, document, root_value, context_value, raw_variable_values, operation_name,
            field_resolver, type_resolver, subscribe_field_resolver, max_coercion_errors,
            enable_early_execution, middleware, is_awaitable, is_async_iterable,
            hide_suggestions=hide_suggestions, abort_signal=abort_signal, hooks=hooks,
            **custom_args,
        )

    @classmethod
    def execute_root_field(  # noqa: PLR0913, PLR0917
        cls,
        schema: Any,
        document: Any,
        root_value: Any,
        context_value: Any,
        raw_variable_values: dict[str, Any] | None,
        operation_name: str | None,
        middleware: Any,
        is_awaitable: Any,
        **custom_args: Any,
    ) -> Any:
        """graphql-core's `execute(…, executor_class=cls)` for a mutation of one root field:
        the ExecutionResult, or an awaitable of it; None when the operation is not of that
        shape (or its variables do not coerce): the caller then runs graphql-core's `execute`.

        For such an operation graphql-core's way to the field is generality this one does
        not need (the incremental executor's entry points, the root's field collection, the
        serial reduction of one field: ~10 % of a registerArtifact's CPU). Here the executor
        is built as `build` builds it, the field's `FieldDetails` are those graphql-core's
        `collect_fields` gave the first time (the root has no directive, so they do not depend
        on the variables), and the field runs through graphql-core's own `execute_field` (the
        resolve info, the arguments, the completion, the errors and their null propagation);
        around it, `execute_operation`'s handling of a root error and `execute`'s check of the
        response. tests/graphql/test_h5_root_field.py compares both paths."""
        prepared = cls._prepared(schema, document, operation_name, middleware)
        if prepared is None:
            return None
        root_field = prepared.root_field
        if root_field is False:
            root_field = prepared.root_field = _root_field(schema, prepared)
        if root_field is None:
            return None
        try:
            variable_values = prepared.coerce(raw_variable_values or {})
        except NotCoerced:
            return None
        executor = cls._from_prepared(
            schema, prepared, root_value, context_value, variable_values, None, None, None,
            False, middleware, is_awaitable, None, **custom_args,
        )
        return executor._execute_root_field(*root_field)

    def _execute_root_field(
        self, root_type: GraphQLObjectType, response_name: str,
        field_details_list: FieldDetailsList, plan: _RootPlan,
    ) -> Any:
        """`execute_operation` with `execute_fields_serially` over one field, the field run
        as graphql-core's `execute_field` runs it (see `_execute_planned_field`)."""
        try:
            path = Path(None, response_name, root_type.name)
            result = self._execute_planned_field(root_type, field_details_list, path, plan)
            if result.__class__ is _Pending:
                return self._await_root_field(response_name, field_details_list, path, plan,
                                              *result)
            data = {} if result is Undefined else {response_name: result}
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return _single_response(self.finish(self.build_response(None)))
        return _single_response(self.finish(self.build_response(data)))

    def _execute_planned_field(
        self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList,
        path: Path, plan: _RootPlan,
    ) -> Any:
        """graphql-core 3.3.2's `Executor.execute_field` for the planned root field, with what
        does not depend on the request taken from the plan: the field definition (what
        `schema.get_field` answers for a field of the root type) and the arguments
        (`_RootPlan.arguments`: the coerced variables as `coerce_argument` takes them, and
        `coerce_argument` itself for anything else). An awaitable result is handed back as
        a `_Pending` (value, info): `_await_root_field` then does what graphql-core's
        `complete_awaitable_value` would, without its coroutine. Any other result completes
        exactly as in `execute_field`. tests/graphql/test_h8_root_plan.py pins the source of
        the graphql-core functions this follows."""
        field_def = plan.field_def
        return_type = field_def.type
        resolve_fn = field_def.resolve or self.field_resolver
        if self.middleware_manager:
            resolve_fn = self.middleware_manager.get_field_resolver(resolve_fn)
        info = self.build_resolve_info(field_def, [plan.node], parent_type, path)
        try:
            args = plan.arguments(self.variable_values, self.hide_suggestions)
            result = resolve_fn(self.root_value, info, **args)
            if self.is_awaitable(result):
                return _Pending((result, info))
            completed = self.complete_value(
                return_type, field_details_list, info, path, result, None)
            if self.is_awaitable(completed):

                async def await_completed(
                    executor: Any, completed: Any, return_type: Any,
                    field_details_list: FieldDetailsList, path: Path,
                ) -> Any:
                    try:
                        return await completed
                    except Exception as raw_error:
                        executor.handle_field_error(
                            raw_error, return_type, field_details_list, path)
                        return None

                return _Pending((await_completed(
                    self, completed, return_type, field_details_list, path), None))
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return completed

    async def _await_root_field(
        self, response_name: str, field_details_list: FieldDetailsList, path: Path,
        plan: _RootPlan, result: Any, info: GraphQLResolveInfo | None,
    ) -> Any:
        try:
            if info is None:  # execute_field's own await_completed: awaited as it is
                value = await result
            else:
                # graphql-core's `complete_awaitable_value`, inline.
                return_type = plan.field_def.type
                try:
                    resolved = await self.with_abort_signal(result)
                    completed = plan.complete(self, field_details_list, info, path, resolved)
                    if self.is_awaitable(completed):
                        completed = await completed
                except Exception as raw_error:
                    self.handle_field_error(raw_error, return_type, field_details_list, path)
                    completed = None
                value = completed
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return _single_response(self.build_response(None))
        except Exception:
            await self.cancel_incremental_work()
            self.run_async_work_finished_hook()
            raise
        return _single_response(self.build_response({response_name: value}))

    def with_abort_signal(self, awaitable: Any) -> Any:  # type: ignore[override]
        # Without an abort signal graphql-core's coroutine only does `return await awaitable`;
        # each of its callers awaits what this returns at once, so the awaitable itself does:
        # one coroutine less per awaited resolver (tests/graphql/test_h5_root_field.py checks
        # the callers in graphql-core's source).
        if self.abort_signal is None:
            return awaitable
        return super().with_abort_signal(awaitable)

    @staticmethod
    def _prepared(schema: Any, document: Any, operation_name: str | None,
                  middleware: Any) -> Any:
        """The operation prepared once per (schema, document, name) (schema/variables.py), or
        None where graphql-core's own `build` must decide (a middleware list, an invalid
        request); an invalid schema raises, as `build` raises."""
        if middleware is not None and not isinstance(middleware, MiddlewareManager):
            return None
        assert_valid_schema(schema)
        return prepare(schema, document, operation_name)

    @classmethod
    def _from_prepared(  # noqa: PLR0913, PLR0917
        cls, schema: Any, prepared: Any, root_value: Any, context_value: Any,
        variable_values: Any, field_resolver: Any, type_resolver: Any,
        subscribe_field_resolver: Any, enable_early_execution: bool, middleware: Any,
        is_awaitable: Any, is_async_iterable: Any, **kwargs: Any,
    ) -> Any:
        """The executor graphql-core's `build` makes, from a prepared operation and its
        coerced variables (the constructor's positional order is graphql-core 3.3's)."""
        return cls(
            schema,
            dict(prepared.fragment_definitions),
            dict(prepared.fragments),
            root_value,
            context_value,
            prepared.operation,
            variable_values,
            field_resolver or default_field_resolver,
            type_resolver or default_type_resolver,
            subscribe_field_resolver or default_field_resolver,
            enable_early_execution,
            middleware,
            is_awaitable,
            is_async_iterable,
            **kwargs,
        )

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
            tree = None if plan is not None else self._tree_plan(object_type, field_details_list)
            if (plan or tree) is not None and self.get_stream_usage(field_details_list, path) is None:
                try:
                    if plan is not None:
                        return _complete_plain(
                            plan, result, non_null, object_type, info, self.is_awaitable
                        )
                    return _complete_tree_items(tree, result, non_null, info, self.is_awaitable)
                except _NotPlain:
                    pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if not (self.middleware_manager and self.middleware_manager.middlewares):
            tree = self._tree_plan(return_type, field_details_list)
            if tree is not None:
                try:
                    return _complete_tree(tree, result, info, self.is_awaitable)
                except _NotPlain:
                    pass
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def complete_abstract_value(
        self,
        return_type: GraphQLAbstractType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        # A union's member found by the value's Strawberry definition in a map built once
        # (`_union_members`), instead of Strawberry's resolver walking the union (and the
        # schema's type map) per value, then graphql-core's checks of the name it gives.
        if isinstance(return_type, GraphQLUnionType):
            members = _union_members(return_type)
            if members:
                definition = getattr(result, "__strawberry_definition__", None)
                member = members.get(id(definition))
                if (member is not None and member.extensions[_BACKREF] is definition
                        and get_strawberry_type_cast(result) is None):
                    return self.complete_object_value(
                        member, field_details_list, info, path, result, position_context
                    )
        return super().complete_abstract_value(
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

    def _tree_plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> _Tree | None:
        key = (object_type, id(field_details_list), "tree")
        cached = self._plain_plans.get(key)
        if cached is not None:
            return cached[1]
        document = self._document_key()
        if document is None:
            plan = self._build_tree(object_type, field_details_list)
        else:
            shared_key = (id(object_type), document, *(id(d.node) for d in field_details_list))
            shared = _SHARED_TREES.get(shared_key)
            if shared is None:
                plan = self._build_tree(object_type, field_details_list)
                if len(_SHARED_TREES) >= MAX_SHARED_TREES:
                    del _SHARED_TREES[next(iter(_SHARED_TREES))]  # the oldest
                # The keyed objects stay alive with the entry, so that no id is reused.
                nodes = tuple(d.node for d in field_details_list)
                refs = (object_type, self.operation, self.fragment_definitions, nodes)
                _SHARED_TREES[shared_key] = (refs, plan)
            else:
                plan = shared[1]
        self._plain_plans[key] = (field_details_list, plan)
        return plan

    def _document_key(self) -> tuple[int, ...] | None:
        """The identity of the operation's document when no directive (@skip, @include,
        @defer…) nor fragment argument appears in it, else None. Then (and only then) which
        fields an object's selection collects depends on the document and the schema alone,
        not on the variables: its tree plan is shared by every operation of that document."""
        if self._document is not False:
            return self._document
        operation = self.operation
        fragments = tuple(self.fragment_definitions.values())
        key = (id(operation), *(id(f) for f in fragments))
        static = _STATIC_DOCUMENTS.get(key)
        if static is None:
            static = ((operation, fragments), not _has_directives((operation, *fragments)))
            if len(_STATIC_DOCUMENTS) >= MAX_SHARED_TREES:
                del _STATIC_DOCUMENTS[next(iter(_STATIC_DOCUMENTS))]
            _STATIC_DOCUMENTS[key] = static
        self._document = key if static[1] else None
        return self._document

    def _build_tree(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> _Tree | None:
        node = self._object_node(object_type, field_details_list, True, True, [0, 0])
        return _Tree.of(node) if node is not None else None

    def _basic_fields(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> list[tuple[str, str | None, Any]] | None:
        """The selected fields as (response key, attribute, field definition), with (response
        key, None, type name) for __typename; None when one is not a basic field, has
        arguments, a directive other than @skip/@include, or is deferred."""
        grouped, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        fields: list[tuple[str, str | None, Any]] = []
        for response_key, details in grouped.items():
            for detail in details:
                if detail.defer_usage is not None:
                    return None
                for directive in detail.node.directives or ():
                    if directive.name.value not in ("skip", "include"):
                        return None  # @stream, or one the general path knows better
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                fields.append((response_key, None, object_type.name))
                continue
            if node.arguments:
                return None
            field_def = self.schema.get_field(object_type, name)
            if field_def is None or field_def.args:
                return None
            attribute = _is_basic(field_def)
            if attribute is None:
                return None
            fields.append((response_key, attribute, (field_def, details)))
        return fields

    def _build_plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> _Plan | None:
        fields = self._basic_fields(object_type, field_details_list)
        if fields is None:
            return None
        plan: list[_Entry] = []
        for response_key, attribute, field in fields:
            if attribute is None:
                plan.append((response_key, None, field, True))
                continue
            field_type = field[0].type
            required = isinstance(field_type, GraphQLNonNull)
            leaf = field_type.of_type if required else field_type
            if not is_leaf_type(leaf):
                return None
            plan.append((response_key, attribute, leaf.coerce_output_value, required))
        return _Plan.of(plan)

    def _object_node(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList,
        required: bool, root: bool, budget: list[int],
    ) -> TreeNode | None:
        """The tree node of an object's selection (see schema/plain_codegen.py), or None when
        the selection is not a plain subtree. `budget`: [depth, fields] so far."""
        is_type_of = object_type.is_type_of
        if is_type_of is not None and not root and not _ignores_info(is_type_of):
            return None  # it may read the resolve info of its field, which a subtree has not
        fields = self._basic_fields(object_type, field_details_list)
        if fields is None:
            return None
        budget[1] += len(fields)
        if budget[1] > MAX_TREE_FIELDS:
            return None
        entries: list[tuple[str, str | None, Any]] = []
        for response_key, attribute, field in fields:
            if attribute is None:
                entries.append((response_key, None, field))
                continue
            field_def, details = field
            node = self._value_node(field_def, field_def.type, details, budget)
            if node is None:
                return None
            entries.append((response_key, attribute, node))
        return ("object", tuple(entries), is_type_of, required)

    def _value_node(
        self, field_def: GraphQLField, field_type: GraphQLOutputType,
        details: FieldDetailsList, budget: list[int],
    ) -> TreeNode | None:
        required = isinstance(field_type, GraphQLNonNull)
        of_type = field_type.of_type if required else field_type
        if is_leaf_type(of_type):
            return ("leaf", of_type.coerce_output_value, required)
        if budget[0] >= MAX_TREE_DEPTH:
            return None
        budget[0] += 1
        try:
            if isinstance(of_type, GraphQLList):
                item = self._value_node(field_def, of_type.of_type, details, budget)
                return None if item is None else ("list", item, required)
            if isinstance(of_type, GraphQLObjectType):
                return self._object_node(of_type, details, required, False, budget)
            return None  # an interface or a union: the general path resolves its type
        finally:
            budget[0] -= 1


def _single_response(result: Any) -> Any:
    """`execute`'s check: incremental results where one response is due are an error."""
    if not isinstance(result, ExecutionResult):
        raise GraphQLError(UNEXPECTED_MULTIPLE_PAYLOADS)
    return result


def _complete_plain(
    plan: _Plan, items: list[Any] | tuple[Any, ...], non_null: bool,
    object_type: GraphQLObjectType, info: GraphQLResolveInfo, is_awaitable: Any,
) -> list[Any]:
    return plan.complete(items, non_null, object_type.is_type_of, info, is_awaitable, plan.coerces)


def _complete_tree(tree: _Tree, value: Any, info: GraphQLResolveInfo, is_awaitable: Any) -> Any:
    return tree.complete(value, info, is_awaitable, tree.consts)


def _complete_tree_items(
    tree: _Tree, items: list[Any] | tuple[Any, ...], non_null: bool,
    info: GraphQLResolveInfo, is_awaitable: Any,
) -> list[Any]:
    """A list of plain subtrees; a null item as the general path completes it (an error or an
    awaitable item is refused by the tree's function)."""
    completed: list[Any] = []
    for item in items:
        if item is None:
            if non_null:
                raise _NotPlain
            completed.append(None)
        else:
            completed.append(_complete_tree(tree, item, info, is_awaitable))
    return completed
