"""GraphQL limits, all decided from the document before anything executes (no database access).

- Tokens (2,000): the parser stops early (`schema.schema.CachedParse`).
- Depth (10), aliases (15), page sizes (`first` 1–100) and node cost (10,000): `QueryLimits`
  walks the selected operation once. The cost is the number of objects the operation could
  return: a list field counts `first` items, a list inside a connection counts the
  connection's `first`, any other list `ASSUMED_LIST_SIZE`; every root mutation field adds
  `MUTATION_COST`. Fragments are analysed once each (no blow-up by fragment reuse).
- The cost is charged to the caller's rate-limit bucket (app/ratelimit.py), so that aliases and
  nesting cannot buy more work per request; the cost is reported in `extensions.cost`.
- Production (`BUILDSTATE_ENV=production`): introspection is refused.
- Batches: Strawberry's batching stays disabled, so a JSON array of operations is a 400; a
  document with several operations executes only the one named by `operationName`.
- Unexpected errors (masked by schema.errors.ErrorPolicy) get the request id, so that the
  answer points at the logged traceback.

Every rejection is a top-level error with `extensions.code`: QUERY_TOO_DEEP, TOO_MANY_ALIASES,
QUERY_TOO_COSTLY, INTROSPECTION_DISABLED, RATE_LIMITED, and VALIDATION (field `first`) for a page
size out of range.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_composite_type,
    value_from_ast,
)
from graphql.pyutils import Undefined
from graphql.utilities import get_operation_ast, type_from_ast
from strawberry.extensions import SchemaExtension
from tortoise.exceptions import DBConnectionError, IntegrityError, OperationalError

from app.settings import Settings
from app.unavailable import RETRY_AFTER_SECONDS
from db.pool import InvalidData

MAX_TOKENS = 2_000
MAX_PAGE_SIZE = 100
# A list without `first` (a build's artifacts, variables, jobs, states) is assumed to hold this
# many items: their typical size, so the 10,000 limit bounds the largest realistic answer.
ASSUMED_LIST_SIZE = 10
MUTATION_COST = 10
_DEFAULTS = Settings.model_fields


def _default(name: str) -> int:
    return int(_DEFAULTS[name].default)


@dataclass(frozen=True)
class _Unit:
    cost: int
    depth: int
    aliases: int


@dataclass(frozen=True)
class Analysis:  # shared between requests (cached): never changed after it is made
    cost: int
    depth: int
    aliases: int
    page_problems: tuple[tuple[str, list[str]], ...]
    introspection: bool


class _Analyzer:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 variables: dict[str, Any], var_defaults: dict[str, Any]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.var_defaults = var_defaults
        self.memo: dict[tuple[str, int | None], _Unit] = {}
        self.page_problems: list[tuple[str, list[str]]] = []  # (message, response path)
        self.path: list[str] = []
        self.introspection = False
        self.read: set[str] = set()  # the variables the analysis depends on

    def _first(self, node: FieldNode, field_def: Any) -> int | None:
        if "first" not in field_def.args:
            return None
        arg_def = field_def.args["first"]
        given = next((a for a in node.arguments or () if a.name.value == "first"), None)
        value: Any = Undefined
        if given is not None:
            if isinstance(given.value, VariableNode):
                name = given.value.name.value
                self.read.add(name)
                value = self.variables.get(name, self.var_defaults.get(name, Undefined))
            else:
                value = value_from_ast(given.value, _int_type(arg_def.type))
        if value is Undefined or value is None:
            value = arg_def.default_value
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        if not 1 <= value <= MAX_PAGE_SIZE:
            self.page_problems.append(
                (f"first must be between 1 and {MAX_PAGE_SIZE}", [*self.path, _key(node)])
            )
            value = max(1, min(value, MAX_PAGE_SIZE))
        return value

    def selection_set(self, node: SelectionSetNode | None, parent: Any, page: int | None) -> _Unit:
        cost = depth = aliases = 0
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                unit = self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                scope = (self.schema.get_type(selection.type_condition.name.value)
                         if selection.type_condition else parent)
                unit = self.selection_set(selection.selection_set, scope, page)
            elif isinstance(selection, FragmentSpreadNode):
                unit = self.fragment(selection.name.value, page)
            else:  # pragma: no cover - the three selection kinds above are all there is
                continue
            cost += unit.cost
            depth = max(depth, unit.depth)
            aliases += unit.aliases
        return _Unit(cost, depth, aliases)

    def fragment(self, name: str, page: int | None) -> _Unit:
        key = (name, page)
        if key not in self.memo:
            definition = self.fragments.get(name)
            if definition is None:
                return _Unit(0, 0, 0)
            self.memo[key] = _Unit(0, 0, 0)  # cycles are invalid documents; never loop
            scope = self.schema.get_type(definition.type_condition.name.value)
            self.memo[key] = self.selection_set(definition.selection_set, scope, page)
        return self.memo[key]

    def field(self, node: FieldNode, parent: Any, page: int | None) -> _Unit:
        aliases = 1 if node.alias else 0
        name = node.name.value
        if name.startswith("__"):
            # Introspection reads the schema only; it is free but refused in production.
            if name in ("__schema", "__type"):
                self.introspection = True
            return _Unit(0, 0, aliases)
        fields = getattr(parent, "fields", None) or {}
        field_def = fields.get(name)
        if field_def is None:
            return _Unit(0, 1, aliases)
        first = self._first(node, field_def)
        of_type = field_def.type.of_type if isinstance(field_def.type, GraphQLNonNull) \
            else field_def.type
        named = get_named_type(field_def.type)
        if not is_composite_type(named):
            return _Unit(0, 1, aliases)
        is_list = isinstance(of_type, GraphQLList)
        if is_list:
            count = first if first is not None else (page if page is not None else
                                                     ASSUMED_LIST_SIZE)
        else:
            count = 1
        child_page = first if first is not None and not is_list else None
        self.path.append(_key(node))
        try:
            child = self.selection_set(node.selection_set, named, child_page)
        finally:
            self.path.pop()
        return _Unit(count * (1 + child.cost), 1 + child.depth, aliases + child.aliases)


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def _int_type(arg_type: Any) -> GraphQLInputType:
    return arg_type.of_type if isinstance(arg_type, GraphQLNonNull) else arg_type


# Clients send the same few documents over and over (and Strawberry's parser cache hands back
# the same DocumentNode for the same text): an analysis is kept per document, operation and the
# values of the variables it read (only `first` arguments read variables), LRU-bounded like the
# parser and validation caches. The entry holds the document, so its id cannot be reused while
# cached. Measured: 71 us -> <2 us per resume-context read.
CACHED_ANALYSES = 256
_analyses: OrderedDict[tuple[int, int, str | None], tuple[Any, tuple[str, ...], dict[tuple[Any, ...], Analysis | None]]] = OrderedDict()


def analyze(schema: GraphQLSchema, document: Any, operation_name: str | None,
            variables: dict[str, Any] | None) -> Analysis | None:
    """Cost, depth, aliases and page sizes of the operation that would execute."""
    variables = variables or {}
    key = (id(schema), id(document), operation_name)
    entry = _analyses.get(key)
    if entry is not None and entry[0] is document:
        _, names, by_values = entry
        try:
            values = tuple(variables.get(name, Undefined) for name in names)
            if values in by_values:
                _analyses.move_to_end(key)
                return by_values[values]
        except TypeError:  # an unhashable value: analysed afresh, not kept
            return _analyze(schema, document, operation_name, variables)[0]
    analysis, names = _analyze(schema, document, operation_name, variables)
    try:
        values = tuple(variables.get(name, Undefined) for name in names)
        hash(values)
    except TypeError:
        return analysis
    if entry is None or entry[0] is not document or entry[1] != names:
        entry = (document, names, {})
        _analyses[key] = entry
    if len(entry[2]) < CACHED_ANALYSES:
        entry[2][values] = analysis
    _analyses.move_to_end(key)
    while len(_analyses) > CACHED_ANALYSES:
        _analyses.popitem(last=False)
    return analysis


def _analyze(schema: GraphQLSchema, document: Any, operation_name: str | None,
             variables: dict[str, Any]) -> tuple[Analysis | None, tuple[str, ...]]:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None, ()
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    var_defaults: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        var_type = type_from_ast(schema, definition.type)
        if definition.default_value is not None and var_type is not None:
            var_defaults[definition.variable.name.value] = value_from_ast(
                definition.default_value, var_type
            )
    analyzer = _Analyzer(schema, fragments, variables, var_defaults)
    root = _root_type(schema, operation)
    unit = analyzer.selection_set(operation.selection_set, root, None)
    cost = unit.cost
    if operation.operation == OperationType.MUTATION:
        cost += MUTATION_COST * _root_fields(operation, fragments)
    analysis = Analysis(cost=cost, depth=unit.depth, aliases=unit.aliases,
                        page_problems=tuple(analyzer.page_problems),
                        introspection=analyzer.introspection)
    return analysis, tuple(sorted(analyzer.read))


def _root_type(schema: GraphQLSchema, operation: OperationDefinitionNode) -> Any:
    return {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]


def _root_fields(operation: OperationDefinitionNode,
                 fragments: dict[str, FragmentDefinitionNode]) -> int:
    count = 0
    stack = list(operation.selection_set.selections)
    seen: set[str] = set()
    while stack:
        selection = stack.pop()
        if isinstance(selection, FieldNode):
            count += not selection.name.value.startswith("__")
        elif isinstance(selection, InlineFragmentNode):
            stack.extend(selection.selection_set.selections)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                stack.extend(fragment.selection_set.selections)
    return count


def _limit_error(message: str, code: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def _settings(ctx: Any) -> Settings | None:
    return getattr(ctx.context, "settings", None)


def _limits(ctx: Any) -> tuple[int, int, int]:
    settings = _settings(ctx)
    if settings is None:
        return (_default("graphql_max_depth"), _default("graphql_max_aliases"),
                _default("graphql_max_cost"))
    return settings.graphql_max_depth, settings.graphql_max_aliases, settings.graphql_max_cost


class Charge:
    """What the limits charged one operation: its cost, and what is left in the caller's
    rate-limit bucket (reported in `extensions.cost`)."""

    __slots__ = ("cost", "remaining")

    def __init__(self) -> None:
        self.cost: int | None = None
        self.remaining: float | None = None


def check_limits(ctx: Any, charge: Charge) -> None:
    """Refuses the operation (raises a GraphQLError) when it is over a limit; charges the rest
    by cost. Runs once the document is valid, before execution: `QueryLimits.on_execute`, or
    `BuildstateSchema.execute` (schema/schema.py) directly."""
    analysis = analyze(ctx.schema._schema, ctx.graphql_document, ctx.operation_name,
                       ctx.variables)
    if analysis is None:
        return
    max_depth, max_aliases, max_cost = _limits(ctx)
    settings = _settings(ctx)
    if analysis.introspection and settings is not None and settings.is_production:
        raise _limit_error("introspection is disabled in production",
                           "INTROSPECTION_DISABLED")
    if analysis.depth > max_depth:
        raise _limit_error(f"query depth {analysis.depth} exceeds the limit of {max_depth}",
                           "QUERY_TOO_DEEP", depth=analysis.depth, limit=max_depth)
    if analysis.aliases > max_aliases:
        raise _limit_error(f"{analysis.aliases} aliases exceed the limit of {max_aliases}",
                           "TOO_MANY_ALIASES", aliases=analysis.aliases, limit=max_aliases)
    if analysis.page_problems:
        # The same answer the resolvers give for a bad `first`, only earlier.
        message, path = analysis.page_problems[0]
        raise GraphQLError(message, path=path, extensions={"code": "VALIDATION",
                                                           "field": "first"})
    if analysis.cost > max_cost:
        raise _limit_error(
            f"the operation could return {analysis.cost} objects; the limit is {max_cost} "
            "(ask for smaller pages or fewer nested lists)",
            "QUERY_TOO_COSTLY", cost=analysis.cost, limit=max_cost,
        )
    charge.cost = analysis.cost
    _charge(ctx, charge, analysis.cost)


def _charge(ctx: Any, charge: Charge, cost: int) -> None:
    request = getattr(ctx.context, "request", None)
    state = getattr(request, "scope", {}).get("state", {}) if request is not None else {}
    handle = state.get("rate_limit")
    if handle is None or cost <= 0:
        return
    wait = handle.take(cost)
    charge.remaining = handle.limiter.remaining(handle.identity)
    if wait is not None:
        retry_after = max(1, math.ceil(wait))
        response = getattr(ctx.context, "response", None)
        if response is not None and hasattr(response, "headers"):
            response.headers["Retry-After"] = str(retry_after)
            response.status_code = 429
        raise _limit_error(f"rate limit exceeded; retry in {retry_after} s", "RATE_LIMITED",
                           retryAfter=retry_after)


def limits_results(ctx: Any, charge: Charge) -> dict[str, Any]:
    """What the limits add to the answer's `extensions`: the cost, once charged."""
    if charge.cost is None:
        return {}
    cost: dict[str, Any] = {"requested": charge.cost, "limit": _limits(ctx)[2]}
    if charge.remaining is not None:
        cost["rateLimitRemaining"] = max(0, math.floor(charge.remaining))
    return {"cost": cost}


class QueryLimits(SchemaExtension):
    """Refuses operations over the limits before execution; charges the rest by cost
    (`check_limits`, `limits_results`)."""

    def __init__(self) -> None:
        self.charge = Charge()

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None and not ctx.result:
            check_limits(ctx, self.charge)
        yield

    def get_results(self) -> dict[str, Any]:
        return limits_results(self.execution_context, self.charge)


def database_error(original: BaseException | None) -> tuple[str, str] | None:
    """The code and message a database failure is answered with, or None for anything else:
    VALIDATION for a value PostgreSQL refused, UNAVAILABLE when the database cannot serve now."""
    if isinstance(original, InvalidData):
        return "VALIDATION", f"a value cannot be stored: {original}"
    if isinstance(original, (DBConnectionError, ConnectionError, TimeoutError)) or (
        isinstance(original, OperationalError) and not isinstance(original, IntegrityError)
    ):
        return "UNAVAILABLE", "the database is unavailable; retry shortly"
    return None


def database_errors(execution_context: Any) -> None:
    """Database failures keep a code instead of being masked as unexpected: UNAVAILABLE (the
    HTTP answer becomes 503 with Retry-After, as in REST) or VALIDATION for a value PostgreSQL
    refused. Runs before the masking (schema.operation.OperationPolicy)."""
    result = execution_context.result
    errors = getattr(result, "errors", None)
    if not errors:
        return
    unavailable = False
    for index, error in enumerate(errors):
        found = database_error(error.original_error)
        if found is None:
            continue
        code, message = found
        unavailable = unavailable or code == "UNAVAILABLE"
        errors[index] = GraphQLError(
            message, nodes=error.nodes, source=error.source, positions=error.positions,
            path=error.path, extensions={"code": code},
        )
    response = getattr(execution_context.context, "response", None)
    if unavailable and response is not None and hasattr(response, "headers"):
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)


def request_id_on_errors(execution_context: Any) -> None:
    """Masked errors name the request id that the log line with the traceback carries. Runs
    after the masking (schema.operation.OperationPolicy)."""
    result = execution_context.result
    errors = getattr(result, "errors", None)
    if not errors:
        return
    request = getattr(execution_context.context, "request", None)
    request_id = (getattr(request, "scope", {}) or {}).get("state", {}).get("request_id") \
        if request is not None else None
    if request_id is None:
        return
    for error in errors:
        extensions = error.extensions or {}
        if extensions.get("code") == "INTERNAL_SERVER_ERROR" and "requestId" not in extensions:
            error.message = f"Unexpected error (request id {request_id})."
            error.extensions = {**extensions, "requestId": request_id}
