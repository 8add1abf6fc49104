"""The GraphQL error counter counts each error of an answer once."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY

from tests.graphql.support import execute


def _errors(operation: str) -> float:
    return REGISTRY.get_sample_value("buildstate_graphql_errors_total", {"operation": operation}) or 0.0


async def test_a_domain_error_counts_once(database, writer, reader) -> None:
    doc = ('mutation Reg($b: ID!) { registerArtifact(buildId: $b, input: {stateCode: 10, '
           'artifactName: "x", artifactType: "t", artifactPath: "p"}) { __typename } }')
    before = _errors("Reg")
    result = await execute(doc, reader, {"b": str(uuid.uuid4())})  # reader cannot write
    assert result.errors and len(result.errors) == 1, result
    assert _errors("Reg") - before == 1


async def test_validation_errors_count_once_each(database, reader) -> None:
    doc = "query Bad { nope1 nope2 }"
    before = _errors("Bad")
    result = await execute(doc, reader)
    assert result.errors and len(result.errors) == 2, result
    assert _errors("Bad") - before == 2
