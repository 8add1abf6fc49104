"""GraphQL limits are decided before execution: depth, aliases, tokens, page sizes, cost,
batches; none of them touches the database when it refuses. Cost is charged to the caller's
rate-limit bucket, so aliases cannot get around it."""

from __future__ import annotations

import httpx
import pytest

from app.settings import Settings
from schema.limits import ASSUMED_LIST_SIZE, analyze
from schema.schema import schema
from tests.graphql.test_query_count import counting_statements
from tests.hardening.conftest import serve


def _deep(levels: int) -> str:
    """build → artifacts → build → artifacts … : `levels` nested fields."""
    inner = "id"
    for k in reversed(range(1, levels - 1)):
        inner = f"{'artifacts' if k % 2 == 1 else 'build'} {{ {inner} }}"
    return f'query {{ build(id: "00000000-0000-0000-0000-000000000000") {{ {inner} }} }}'


def _aliases(n: int) -> str:
    return "query { " + " ".join(f"a{i}: projects(first: 1) {{ id }}" for i in range(n)) + " }"


def _cost(doc: str, variables: dict | None = None):
    from graphql import parse

    return analyze(schema._schema, parse(doc), None, variables)


def test_cost_counts_pages_nested_lists_aliases_and_fragments():
    assert _cost("{ projects(first: 10) { id } }").cost == 10
    page = _cost("{ builds(first: 30) { edges { node { id artifacts { id } } } pageInfo "
                 "{ hasNextPage } } }")
    # connection 1 + pageInfo 1 + 30 edges × (edge + node + ASSUMED artifacts)
    assert page.cost == 1 + 1 + 30 * (1 + 1 + ASSUMED_LIST_SIZE)
    assert _cost("query($n: Int!) { projects(first: $n) { id } }", {"n": 7}).cost == 7
    assert _cost("query($n: Int = 9) { projects(first: $n) { id } }", {}).cost == 9
    aliased = _cost("{ a: projects(first: 10) { id } b: projects(first: 10) { id } }")
    assert (aliased.cost, aliased.aliases) == (20, 2)
    fragments = _cost("""
        query { builds(first: 3) { edges { node { ...B } } } b: builds(first: 3) { ...C } }
        fragment C on BuildConnection { edges { node { ...B } } }
        fragment B on Build { id jobs { id } }
    """)
    assert fragments.cost == 2 * (1 + 3 * (1 + 1 + ASSUMED_LIST_SIZE))
    mutation = _cost('mutation { createProject(input: {id: "x", name: "x"}) { __typename } }')
    assert mutation.cost == 1 + 10
    assert _cost("{ __schema { types { name } } }").introspection


def test_a_kept_analysis_is_keyed_by_the_variables_it_read():
    """Analyses are cached per document (schema.limits): a `first` read from a variable gives
    each value its own analysis, and variables it does not read do not matter."""
    from graphql import parse

    doc = parse("query($n: Int!, $other: ID) { projects(first: $n) { id } }")
    seven = analyze(schema._schema, doc, None, {"n": 7, "other": "a"})
    assert seven.cost == 7 and not seven.page_problems
    # the same document: the cached answer only when the variable it read is the same
    assert analyze(schema._schema, doc, None, {"n": 7, "other": "b"}) is seven
    too_big = analyze(schema._schema, doc, None, {"n": 1000})
    assert too_big.page_problems and too_big.page_problems[0][0].startswith("first must be")
    assert analyze(schema._schema, doc, None, {"n": 3}).cost == 3
    assert analyze(schema._schema, doc, None, {"n": 7}) is seven
    # an unhashable value where a number belongs is analysed, not kept (validation refuses it)
    assert analyze(schema._schema, doc, None, {"n": [1]}).cost > 0


async def _post(http: httpx.AsyncClient, query: str, variables: dict | None = None):
    return await http.post("/graphql", json={"query": query, "variables": variables or {}})


@pytest.mark.parametrize("doc, code", [
    (_deep(11), "QUERY_TOO_DEEP"),
    (_aliases(16), "TOO_MANY_ALIASES"),
    ("{ projects(first: 101) { id } }", "VALIDATION"),
    ("{ projects(first: 0) { id } }", "VALIDATION"),
    ("{ builds(first: 100) { edges { node { artifacts { build { artifacts { id } } } } } } }",
     "QUERY_TOO_COSTLY"),
])
async def test_limits_refuse_before_execution_without_database(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, doc: str, code: str,
):
    await _post(client, "{ projects(first: 1) { id } }")  # warm the credential cache
    with counting_statements(monkeypatch) as statements:
        answer = await _post(client, doc)
    body = answer.json()
    assert body["data"] is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    assert statements == []


async def test_within_the_limits_runs_and_reports_its_cost(client: httpx.AsyncClient,
                                                           database: Settings):
    assert _cost(_deep(10)).depth == 10
    async with serve(database.model_copy(update={"graphql_max_cost": 10**9})) as generous:
        # (4 nested unbounded lists cost 50^4 nodes: only the depth is under test here)
        ok_depth = await _post(generous, _deep(10))
        assert "errors" not in ok_depth.json(), ok_depth.json()
    ok_aliases = await _post(client, _aliases(15))
    assert "errors" not in ok_aliases.json()
    assert ok_aliases.json()["extensions"]["cost"]["requested"] == 15
    answer = await _post(client, "query($n: Int!) { projects(first: $n) { id } }", {"n": 100})
    cost = answer.json()["extensions"]["cost"]
    assert cost["requested"] == 100 and cost["limit"] == 10_000
    assert cost["rateLimitRemaining"] > 0
    refused = await _post(client, "query($n: Int!) { projects(first: $n) { id } }", {"n": 500})
    assert refused.json()["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "first"}


async def test_token_limit_and_batches(client: httpx.AsyncClient,
                                       monkeypatch: pytest.MonkeyPatch):
    await _post(client, "{ projects(first: 1) { id } }")
    huge = "{ " + " ".join(f"f{i}: __typename" for i in range(1100)) + " }"
    with counting_statements(monkeypatch) as statements:
        answer = await _post(client, huge)
        batch = await client.post("/graphql", json=[{"query": "{ projects(first: 1) { id } }"}] * 3)
    assert "tokens" in answer.json()["errors"][0]["message"]
    assert batch.status_code == 400
    assert statements == []


async def test_graphql_cost_is_charged_so_aliases_cannot_get_around_it(database: Settings):
    tight = database.model_copy(update={"rate_limit_burst": 200, "rate_limit_per_second": 1.0,
                                        "rate_limit_request_cost": 10})
    async with serve(tight) as http:
        # One field: cheap, many calls fit. 15 aliases of a 10-item page: 150 nodes each time.
        for _ in range(3):
            assert "errors" not in (await _post(http, "{ projects(first: 1) { id } }")).json()
        aliased = "query { " + " ".join(
            f"a{i}: projects(first: 10) {{ id }}" for i in range(15)) + " }"
        first = await _post(http, aliased)
        assert "errors" not in first.json()
        assert first.json()["extensions"]["cost"]["requested"] == 150
        second = await _post(http, aliased)
        assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1
        error = second.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        # With the bucket empty even the request itself is refused, still in GraphQL's shape.
        third = await _post(http, "{ projects(first: 1) { id } }")
        assert third.status_code == 429
        assert third.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_unexpected_errors_are_masked_with_the_request_id(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch,
):
    from app.services import projects

    async def broken(**kwargs):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(projects, "list_projects", broken)
    answer = await client.post("/graphql", json={"query": "{ projects { id } }"},
                               headers={"X-Request-ID": "req-mask-1"})
    error = answer.json()["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-mask-1"}
    assert "req-mask-1" in error["message"] and "hunter2" not in answer.text
    # Expected errors keep their codes.
    expected = await _post(client, "{ projects(first: 0, offset: 0) { id } }")
    assert expected.json()["errors"][0]["extensions"]["code"] == "VALIDATION"
    missing = await client.post("/graphql", json={"query": "{ projects { id } }"},
                                headers={"X-API-Key": ""})
    assert missing.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
