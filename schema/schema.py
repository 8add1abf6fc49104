"""The assembled schema."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from schema.errors import ErrorPolicy, should_mask_error
from schema.extensions_metrics import MetricsExtension
from schema.limits import DatabaseErrors, QueryLimits, RequestIdOnErrors, TokenLimit
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


schema = BuildstateSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(scalar_map=SCALAR_MAP),
    # A class, not an instance: each operation gets its own extension object.
    # RequestIdOnErrors first: its exit runs after ErrorPolicy's masking (schema/limits.py).
    extensions=[
        RequestIdOnErrors, ErrorPolicy, DatabaseErrors, MetricsExtension, TokenLimit, QueryLimits,
    ],
)
