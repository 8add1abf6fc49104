"""GraphQL operations in the Prometheus metrics: by name and type, with errors and duration."""

from __future__ import annotations

from typing import Any

from app.metrics import observe_graphql


def observe_operation(execution_context: Any, seconds: float, raised: bool) -> None:
    """Count and time one operation (schema.operation.OperationPolicy calls it as the operation
    ends); one refused by an extension (limits, rate) still counts, as an error."""
    ctx = execution_context
    try:
        op_type = ctx.operation_type.value
    except Exception:  # unparsable document: no operation to name
        op_type = "unknown"
    # An executed operation's errors are its result's (Strawberry also hands the same list to
    # `pre_execution_errors`: adding both counted each error twice); one refused before
    # execution (parse, validation, limits) has only the pre-execution ones.
    result_errors = getattr(ctx.result, "errors", None) if ctx.result is not None else None
    errors = len(result_errors) if result_errors else len(ctx.pre_execution_errors or [])
    observe_graphql(ctx.operation_name, op_type, seconds, max(errors, 1) if raised else errors)
