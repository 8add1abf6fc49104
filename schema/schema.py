"""The assembled schema."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from inspect import isawaitable
from typing import Any

import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import DocumentNode, GraphQLError, GraphQLSchema, execute
from graphql.execution.middleware import MiddlewareManager
from strawberry.exceptions import MissingQueryError
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, _coerce_error
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from schema.errors import mask_result, should_mask_error
from schema.execution import PlainListExecutor
from schema.extensions_metrics import operation_type_of
from schema.limits import (
    MAX_TOKENS, Charge, QueryLimits, check_limits, database_error, limits_results,
)
from schema.operation import OperationPolicy, operation_ended, operation_raised
from schema.mutations import Mutation
from schema.query import Query
from schema.scalars import SCALAR_MAP
from schema.subscriptions import Subscription

log = logging.getLogger("buildstate.graphql")


# Documents are parsed and validated once per process (clients send the same few documents
# over and over; validation was the largest cost of a small query). Both caches are LRU-bounded,
# so unique documents cannot grow memory, and keyed by the document text (and the token limit),
# so every request is still checked. The limits that depend on variables (QueryLimits) run
# for every request, before execution.
CACHED_DOCUMENTS = 256


def set_parse_options(ctx: ExecutionContext) -> None:
    # The token limit (what Strawberry's MaxTokensLimiter sets, one extension less): the
    # parser stops after MAX_TOKENS tokens; the cache is keyed by the text and this option.
    ctx.parse_options["max_tokens"] = MAX_TOKENS


class CachedParse(ParserCache):
    def __init__(self) -> None:
        super().__init__(maxsize=CACHED_DOCUMENTS)

    def on_operation(self) -> Iterator[None]:
        set_parse_options(self.execution_context)
        yield


class CachedValidation(ValidationCache):
    def __init__(self) -> None:
        super().__init__(maxsize=CACHED_DOCUMENTS)

    def on_validate(self) -> Iterator[None]:
        validate_document(self.execution_context)
        yield


# The process-wide LRU caches both extensions use (Strawberry keeps one per maxsize), so that
# BuildstateSchema.execute shares their entries: the same DocumentNode for the same text.
_cached_parse = CachedParse().cached_parse_document
_cached_validate = CachedValidation().cached_validate_document


def parse_document(ctx: ExecutionContext) -> None:
    """ParserCache.on_parse: a parse error (syntax, token limit) raises."""
    ctx.graphql_document = _cached_parse(ctx.query, **ctx.parse_options)


# A hit of Strawberry's validation cache still hashes the whole document (graphql-core's nodes
# are frozen dataclasses: the hash walks every node; measured 13 us for the benchmark's
# registerArtifact mutation, 29 us for its resume-context read). The parser cache hands back the
# same DocumentNode for the same text, so the errors are also kept by the document's identity,
# LRU-bounded like the caches; the entry holds the document, so its id cannot be reused while
# kept. A document parsed anew (evicted from the parser cache) still finds Strawberry's entry.
_validated: OrderedDict[int, tuple[DocumentNode, GraphQLSchema, tuple[Any, ...],
                                   list[GraphQLError]]] = OrderedDict()


def validate_document(ctx: ExecutionContext) -> None:
    """ValidationCache.on_validate: the errors (none for a valid document) as
    `pre_execution_errors`."""
    document = ctx.graphql_document
    graphql_schema = ctx.schema._schema
    rules = ctx.validation_rules
    key = id(document)
    entry = _validated.get(key)
    if (entry is not None and entry[0] is document and entry[1] is graphql_schema
            and (entry[2] is rules or entry[2] == rules)):
        errors = entry[3]
        _validated.move_to_end(key)
    else:
        errors = _cached_validate(graphql_schema, document, rules)
        _validated[key] = (document, graphql_schema, rules, errors)  # type: ignore[assignment]
        while len(_validated) > CACHED_DOCUMENTS:
            _validated.popitem(last=False)
    # A copy: error extensions may rewrite the answer's list, never the cached one.
    ctx.pre_execution_errors = list(errors)


class BuildstateSchema(strawberry.Schema):
    # Whether `execute` runs a mutation of one root field through the executor's
    # `execute_root_field` (schema/execution.py); the tests turn it off to compare with
    # graphql-core's `execute`. An executor class without it takes graphql-core's path.
    lean_root_field = True

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected outcomes (auth, not found, validation…) are answers, not incidents: only
        # the errors that will be masked are logged, with their traceback.
        for error in errors:
            database = database_error(error.original_error)
            if database is not None:
                # An outage is logged as the REST shim logs it, one line without a traceback
                # (it is not a bug); a value PostgreSQL refused is the caller's input.
                if database[0] == "UNAVAILABLE":
                    log.error("database unavailable at %s: %s", error.path, error.original_error)
            elif should_mask_error(error):
                log.error("unexpected error at %s: %s", error.path, error.message,
                          exc_info=error.original_error)

    async def execute(  # noqa: PLR0917
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Strawberry's `Schema.execute` with our four extensions' steps called directly.

        Strawberry sets up every extension hook of every operation through its extension runner
        (extension objects, context managers, generator wrappers: ~13-18 % of the server's CPU
        on a small mutation). Queries and mutations over HTTP come here; the steps, their
        order and every observable outcome are those of `super().execute` with
        `PIPELINE` (tests/graphql/test_operation_pipeline.py runs both and compares):

        - CachedParse: the token limit, then the cached parse;
        - MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError raised
          (the view answers 400), after being counted in the metrics;
        - CachedValidation; validation errors are answered (logged first, as ever);
        - QueryLimits (`check_limits`) before execution; graphql-core's execute with the same
          executor class, awaitable check, (empty) middleware and custom arguments (a
          mutation of one root field: the executor's `execute_root_field`, the same steps
          without graphql-core's operation machinery, tests/graphql/test_h5_root_field.py);
        - process_errors logs before the masking; OperationPolicy's steps
          (`operation_ended`: metrics, database error codes, masking, request id);
        - the answer's `extensions` are what the extensions' `get_results` gave (the cost).

        Anything else (other extensions, schema directives, incremental delivery) takes
        Strawberry's path. Subscriptions (`subscribe`, `stream`) and `execute_sync` keep the
        extensions.
        """
        if (self.extensions != PIPELINE or self.directives
                or self.config.enable_experimental_incremental_execution):
            return await super().execute(
                query, variable_values, context_value, root_value, operation_name,
                allowed_operation_types, operation_extensions,
            )
        ctx = ExecutionContext(
            query=query,
            schema=self,
            allowed_operations=(DEFAULT_ALLOWED_OPERATION_TYPES if allowed_operation_types is None
                                else allowed_operation_types),
            context=context_value,
            root_value=root_value,
            variables=variable_values,
            provided_operation_name=operation_name,
            operation_extensions=operation_extensions,
        )
        charge = Charge()
        answered: ExecutionResult | None = None  # validation errors, answered inside
        started = time.perf_counter()
        set_parse_options(ctx)
        try:
            try:
                if not ctx.query:
                    raise MissingQueryError
                parse_document(ctx)
                try:
                    operation_type = operation_type_of(ctx)
                except RuntimeError as error:
                    raise CannotGetOperationTypeError(ctx.operation_name) from error
                # A subscription streams: over WebSocket (or Strawberry's multipart answer,
                # which never comes here). Executed as a query, its root field would be an
                # async generator where an object is due: a masked "Unexpected error."
                # and a logged traceback. It is refused as the view refuses a mutation by
                # GET: 400, "subscriptions are not allowed when using POST".
                if (operation_type not in ctx.allowed_operations
                        or operation_type is OperationType.SUBSCRIPTION):
                    raise InvalidOperationTypeError(operation_type)
                validate_document(ctx)
                if ctx.pre_execution_errors:
                    answered = self._answer(
                        ctx, PreExecutionError(data=None, errors=ctx.pre_execution_errors),
                        charge, process_errors=True,
                    )
                else:
                    check_limits(ctx, charge)
                    middleware = MiddlewareManager()
                    custom_args = self._get_custom_context_kwargs(operation_extensions)
                    result = None
                    if (operation_type is OperationType.MUTATION and self.lean_root_field
                            and issubclass(self.execution_context_class, PlainListExecutor)):
                        # A mutation of one root field, without graphql-core's operation
                        # machinery (PlainListExecutor.execute_root_field); None otherwise.
                        result = self.execution_context_class.execute_root_field(
                            self._schema, ctx.graphql_document, ctx.root_value, ctx.context,
                            ctx.variables, operation_name, middleware, optimized_is_awaitable,
                            **custom_args,
                        )
                    if result is None:
                        result = execute(
                            self._schema,
                            ctx.graphql_document,
                            root_value=ctx.root_value,
                            middleware=middleware,
                            variable_values=ctx.variables,
                            # The name the client gave: with several operations and none
                            # named, graphql-core answers "Must provide operation name…"
                            # (the spec's GetOperation) where Strawberry's `operation_name`
                            # would run the first one.
                            operation_name=operation_name,
                            context_value=ctx.context,
                            is_awaitable=optimized_is_awaitable,
                            executor_class=self.execution_context_class,
                            **custom_args,
                        )
                    if isawaitable(result):
                        result = await result
                    ctx.result = result
                    if isinstance(result, GraphQLExecutionResult) and result.errors:
                        ctx.pre_execution_errors = result.errors
                        # Logged before the masking changes them.
                        self._process_errors(result.errors, ctx)
            except BaseException:
                operation_raised(ctx, started)
                raise
            operation_ended(ctx, started, lambda: mask_result(ctx.result))
        except (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError):
            raise
        except Exception as exc:  # noqa: BLE001 - as Strawberry: an error answer
            return self._answer(ctx, PreExecutionError(data=None, errors=[_coerce_error(exc)]),
                                charge, process_errors=True)
        if answered is not None:
            return answered
        return self._answer(ctx, result, charge, process_errors=False)

    def _answer(self, ctx: ExecutionContext, result: Any, charge: Charge, *,
                process_errors: bool) -> ExecutionResult:
        """Strawberry's `_handle_execution_result` for a non-incremental result."""
        if result.errors:
            ctx.pre_execution_errors = result.errors
            if process_errors:
                self._process_errors(result.errors, ctx)
        if isinstance(result, GraphQLExecutionResult):
            result = ExecutionResult(data=result.data, errors=result.errors)
        extensions = limits_results(ctx, charge)  # the only extension with results
        extensions.update(ctx.extensions_results)
        result.extensions = extensions
        ctx.result = result
        return result


# The extensions every operation runs. BuildstateSchema.execute calls their steps directly; any
# other list makes it take Strawberry's path.
PIPELINE = (OperationPolicy, QueryLimits, CachedParse, CachedValidation)

schema = BuildstateSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(scalar_map=SCALAR_MAP),
    execution_context_class=PlainListExecutor,  # lists of plain objects in one loop
    # Classes, not instances: each operation gets its own extension objects. As few as the
    # work needs (Strawberry sets up each one's hooks per operation): OperationPolicy is the
    # metrics, database-error codes, masking and request ids (schema/operation.py).
    extensions=PIPELINE,
)

# Mutation fields resolved without Strawberry's per-request wrapper (schema/mutations/direct.py).
from schema.mutations.direct import install as install_direct_resolvers  # noqa: E402

install_direct_resolvers(schema)
