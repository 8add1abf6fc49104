"""GraphQL operations in the Prometheus metrics: by name and type, with errors and duration."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from graphql import DocumentNode
from strawberry.types.graphql import OperationType
from strawberry.utils.operation import get_operation_type

from app.metrics import observe_graphql

# (id(document), operation name) -> (document, its type): Strawberry's `operation_type` walks
# the document and looks the enum up by value on every read, and an operation reads it twice
# (BuildstateSchema.execute, then the metrics). LRU-bounded like the parser cache, whose
# DocumentNode it keys; the entry keeps the document alive, so its id is not reused.
MAX_OPERATION_TYPES = 256
_OPERATION_TYPES: OrderedDict[tuple[int, str | None], tuple[DocumentNode, OperationType]] = (
    OrderedDict()
)


def operation_type_of(ctx: Any) -> OperationType:
    """`ctx.operation_type` (Strawberry's ExecutionContext): the same value, the same
    RuntimeError without a document or an operation of that name (never kept)."""
    document = ctx.graphql_document
    if not document:
        return ctx.operation_type  # raises as Strawberry's
    return _operation_type(document, ctx.operation_name)


def _operation_type(document: DocumentNode, name: str | None) -> OperationType:
    key = (id(document), name)
    entry = _OPERATION_TYPES.get(key)
    if entry is not None and entry[0] is document:
        _OPERATION_TYPES.move_to_end(key)
        return entry[1]
    found = get_operation_type(document, name)  # what ctx.operation_type returns
    _OPERATION_TYPES[key] = (document, found)
    while len(_OPERATION_TYPES) > MAX_OPERATION_TYPES:
        _OPERATION_TYPES.popitem(last=False)
    return found


def observe_operation(execution_context: Any, seconds: float, raised: bool) -> None:
    """Count and time one operation (schema.operation.OperationPolicy calls it as the operation
    ends); one refused by an extension (limits, rate) still counts, as an error."""
    ctx = execution_context
    # The name read once: a property that walks the document when the request named none.
    name = ctx.operation_name
    try:
        document = ctx.graphql_document
        # As operation_type_of(ctx), with the name already read.
        op_type = (_operation_type(document, name) if document else ctx.operation_type).value
    except Exception:  # unparsable document: no operation to name
        op_type = "unknown"
    # An executed operation's errors are its result's (Strawberry also hands the same list to
    # `pre_execution_errors`: adding both counted each error twice); one refused before
    # execution (parse, validation, limits) has only the pre-execution ones.
    result_errors = getattr(ctx.result, "errors", None) if ctx.result is not None else None
    errors = len(result_errors) if result_errors else len(ctx.pre_execution_errors or [])
    observe_graphql(name, op_type, seconds, max(errors, 1) if raised else errors)
