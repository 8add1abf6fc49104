"""`operation_type_of` (schema/extensions_metrics.py) memoizes Strawberry's
`ExecutionContext.operation_type` per document and name: for every document and operation
name below it must give what Strawberry's property gives, or raise the same error, on the first
read and on the memoized ones."""

from __future__ import annotations

import pytest
from graphql import parse
from strawberry.types import ExecutionContext

from schema.extensions_metrics import operation_type_of
from schema.schema import schema

DOCUMENTS = [
    "{ __typename }",
    "query Q { __typename }",
    "mutation M { __typename }",
    "subscription S { __typename }",
    "query A { __typename } mutation B { __typename }",
    "fragment F on Query { __typename } mutation { ...F }",
    "fragment F on Query { __typename }",
]
NAMES = [None, "Q", "M", "S", "A", "B", "missing"]


def _outcome(read: object) -> object:
    try:
        return read()  # type: ignore[operator]
    except Exception as error:  # noqa: BLE001 - the error is the outcome compared
        return (type(error), str(error))


@pytest.mark.parametrize("text", DOCUMENTS)
def test_operation_type_is_strawberrys(text: str) -> None:
    document = parse(text)
    for name in NAMES:
        ctx = ExecutionContext(query=text, schema=schema, allowed_operations=(),
                               provided_operation_name=name)
        ctx.graphql_document = document
        expected = _outcome(lambda: ctx.operation_type)
        for _ in range(3):  # the first read, then the memoized ones
            assert _outcome(lambda: operation_type_of(ctx)) == expected


def test_no_document_raises_as_strawberry() -> None:
    ctx = ExecutionContext(query="", schema=schema, allowed_operations=())
    with pytest.raises(RuntimeError, match="No GraphQL document available"):
        operation_type_of(ctx)
