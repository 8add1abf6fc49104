"""The assembled schema."""

from __future__ import annotations

import logging

from collections.abc import Iterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from schema.errors import should_mask_error
from schema.execution import PlainListExecutor
from schema.limits import MAX_TOKENS, QueryLimits
from schema.operation import OperationPolicy
from schema.mutations import Mutation
from schema.query import Query
from schema.scalars import SCALAR_MAP
from schema.subscriptions import Subscription

log = logging.getLogger("buildstate.graphql")


class BuildstateSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected outcomes (auth, not found, validation…) are answers, not incidents: only
        # the errors that will be masked are logged, with their traceback.
        for error in errors:
            if should_mask_error(error):
                log.error("unexpected error at %s: %s", error.path, error.message,
                          exc_info=error.original_error)


# Documents are parsed and validated once per process (clients send the same few documents
# over and over; validation was the largest cost of a small query). Both caches are LRU-bounded,
# so unique documents cannot grow memory, and keyed by the document text (and the token limit),
# so every request is still checked. The limits that depend on variables (QueryLimits) run
# for every request, before execution.
CACHED_DOCUMENTS = 256


class CachedParse(ParserCache):
    def __init__(self) -> None:
        super().__init__(maxsize=CACHED_DOCUMENTS)

    def on_operation(self) -> Iterator[None]:
        # The token limit (what Strawberry's MaxTokensLimiter sets, one extension less): the
        # parser stops after MAX_TOKENS tokens; the cache is keyed by the text and this option.
        self.execution_context.parse_options["max_tokens"] = MAX_TOKENS
        yield


class CachedValidation(ValidationCache):
    def __init__(self) -> None:
        super().__init__(maxsize=CACHED_DOCUMENTS)

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        errors = self.cached_validate_document(
            ctx.schema._schema, ctx.graphql_document, ctx.validation_rules
        )
        # A copy: error extensions may rewrite the answer's list, never the cached one.
        ctx.pre_execution_errors = list(errors)
        yield


schema = BuildstateSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(scalar_map=SCALAR_MAP),
    execution_context_class=PlainListExecutor,  # lists of plain objects in one loop
    # Classes, not instances: each operation gets its own extension objects. As few as the
    # work needs (Strawberry sets up each one's hooks per operation): OperationPolicy is the
    # metrics, database-error codes, masking and request ids (schema/operation.py).
    extensions=[OperationPolicy, QueryLimits, CachedParse, CachedValidation],
)
