"""BuildstateGraphQL's fast path (schema/app.py) against Strawberry's own request handling.

Every request of the table goes through the whole application twice, with the fast path on and
off, and both answers must be the same bytes: status, every header in order, body. Each row also
says which path must answer it with the fast path on (Strawberry's `run` is counted), so a fast
path that silently delegated everything, or took a request it should leave to Strawberry, fails.

Determinism: a fixed X-Request-Id (masked errors name it), the rate limiter on a frozen clock with
its buckets reset before every request (so `rateLimitRemaining` and Retry-After repeat).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager

from app.services import projects as project_service
from app.settings import Settings
from schema.app import BuildstateGraphQL
from tests.conftest import ADMIN_KEY, WRITE_KEY, unique

REQUEST_ID = "fastpath-0123456789"
FAST, STRAWBERRY, NEITHER = "fast", "strawberry", "neither"  # NEITHER: refused before the view
QUERY = "{ projects(first: 2) { id name } }"


@dataclass
class Case:
    name: str
    path: str  # which path must answer with the fast path on
    method: str = "POST"
    json: Any = None  # a body sent as orjson bytes
    content: bytes | None = None  # a raw body
    content_type: str | None = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    params: dict[str, str] | None = None
    key: str | None = WRITE_KEY
    tokens: float | None = None  # the caller's bucket before the request (None: full)
    patch: str | None = None  # a failure injected in the projects service: "boom", "db"
    status: int | None = None  # the expected status, when it matters

    def body(self) -> bytes | None:
        if self.content is not None:
            return self.content
        if self.json is None:
            return None
        return orjson.dumps(self.json)


SET_VARIABLE = (
    "mutation($b: ID!){ setVariable(buildId: $b, input: {key: \"FAST_PATH\", value: \"1\"}) "
    "{ __typename ... on VariableSet { variable { key value } } ... on Error { code message } } }"
)
CONFLICT = (
    "mutation($id: ID!){ createProject(input: {id: $id, name: \"again\"}) "
    "{ __typename ... on Error { code message } ... on ConflictError { existingId } } }"
)

CASES = [
    Case("query", FAST, json={"query": QUERY}, status=200),
    Case("query, variables and operationName", FAST, json={
        "query": "query Q($n: Int!){ projects(first: $n) { id } } query R { __typename }",
        "variables": {"n": 1}, "operationName": "Q"}, status=200),
    Case("variables null, operationName null, extensions null", FAST, json={
        "query": QUERY, "variables": None, "operationName": None, "extensions": None}),
    Case("extensions object, an unknown member", FAST, json={
        "query": "{ __typename }", "extensions": {"x": [1, 2]}, "other": True}),
    Case("non-ASCII text", FAST, json={
        "query": "query($k: String){ __typename } # ünïcödé ✓", "variables": {"k": "é✓"}}),
    Case("mutation", FAST, json={"query": SET_VARIABLE, "variables": {"b": "{build}"}},
         status=200),
    Case("domain error (a union member)", FAST, json={
        "query": CONFLICT, "variables": {"id": "{project}"}}, status=200),
    Case("not found (null)", FAST, json={"query": '{ project(id: "no-such-project") { id } }'}),
    Case("validation error", FAST, json={"query": "{ projects { nope } }"}, status=200),
    Case("variable of the wrong type", FAST, json={
        "query": "query($n: Int!){ projects(first: $n) { id } }", "variables": {"n": "x"}}),
    Case("field error (bad page size)", FAST, json={"query": "{ projects(first: 0) { id } }"}),
    Case("syntax error", FAST, json={"query": "{ projects("}),
    Case("masked unexpected error", FAST, json={"query": QUERY}, patch="boom", status=200),
    Case("database unavailable: 503 + Retry-After set by the operation", FAST,
         json={"query": QUERY}, patch="db", status=503),
    Case("rate limited by the operation's cost: 429 + Retry-After", FAST,
         json={"query": "{ projects(first: 50) { id } }"}, tokens=12, status=429),
    Case("no credential: UNAUTHENTICATED in the body", FAST, json={"query": QUERY}, key=None),
    Case("forbidden: an admin-only mutation with a write key", FAST, json={
        "query": 'mutation($b: ID!){ deleteArtifact(buildId: $b, '
                 'artifactId: "00000000-0000-0000-0000-000000000000") { __typename } }',
        "variables": {"b": "{build}"}}),
    Case("admin key", FAST, key=ADMIN_KEY, json={"query": QUERY}, status=200),
    Case("empty query string: 400", FAST, json={"query": ""}, status=400),
    Case("unknown operationName: 400", FAST, json={"query": QUERY, "operationName": "Nope"},
         status=400),
    Case("two operations, no operationName", FAST,
         json={"query": "query A { __typename } query B { __typename }"}),
    Case("subscription over POST", FAST, json={
        "query": "subscription { buildEvents(buildId: \"{build}\") { id } }"}),
    Case("charset=utf-8", FAST, json={"query": QUERY}, content_type="application/json; charset=utf-8"),
    Case("charset=UTF-8", FAST, json={"query": QUERY}, content_type="application/json;charset=UTF-8"),
    Case("Accept: graphql-response+json", FAST, json={"query": QUERY},
         headers=[("accept", "application/graphql-response+json, application/json")]),
    # Strawberry's path: the body is read once by the fast path and replayed.
    Case("missing query: 400", STRAWBERRY, json={"variables": {}}, status=400),
    Case("query null: 400", STRAWBERRY, json={"query": None}, status=400),
    Case("query not a string: 400", STRAWBERRY, json={"query": 123}, status=400),
    Case("variables not an object: 400", STRAWBERRY, json={"query": QUERY, "variables": [1]},
         status=400),
    Case("variables a string: 400", STRAWBERRY, json={"query": QUERY, "variables": "{}"},
         status=400),
    Case("extensions not an object: 400", STRAWBERRY, json={"query": QUERY, "extensions": 1},
         status=400),
    Case("operationName not a string", STRAWBERRY, json={"query": QUERY, "operationName": 5}),
    Case("invalid JSON: 400", STRAWBERRY, content=b'{"query": ', status=400),
    Case("empty body: 400", STRAWBERRY, content=b"", status=400),
    Case("NaN (the standard parser reads it)", STRAWBERRY,
         content=b'{"query": "query($f: Float){ __typename }", "variables": {"f": NaN}}'),
    Case("integer beyond 64 bits (orjson would read a float)", STRAWBERRY, content=(
        b'{"query": "query($n: Int!){ projects(first: $n) { id } }",'
        b' "variables": {"n": 123456789012345678901234567890}}')),
    Case("UTF-8 byte order mark", STRAWBERRY, content=b'\xef\xbb\xbf{"query": "{ __typename }"}'),
    Case("lone surrogate escape", STRAWBERRY,
         content=b'{"query": "query($s: String){ __typename }", "variables": {"s": "\\ud800"}}'),
    Case("batch (a list): 400", STRAWBERRY, json=[{"query": QUERY}, {"query": QUERY}], status=400),
    Case("a JSON string body", STRAWBERRY, content=b'"{ __typename }"'),
    Case("upper-case media type: 400 (Strawberry compares case-sensitively)", STRAWBERRY,
         json={"query": QUERY}, content_type="Application/JSON", status=400),
    Case("another charset", STRAWBERRY, json={"query": QUERY},
         content_type="application/json; charset=latin-1"),
    Case("a +json media type", STRAWBERRY, json={"query": QUERY},
         content_type="application/graphql-response+json"),
    Case("text/plain: 400", STRAWBERRY, json={"query": QUERY}, content_type="text/plain",
         status=400),
    Case("no content type: 400", STRAWBERRY, json={"query": QUERY}, content_type=None),
    Case("content type twice", STRAWBERRY, json={"query": QUERY},
         headers=[("content-type", "application/json")]),
    Case("multipart upload (disabled): 400", STRAWBERRY,
         content=b'--b\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{}\r\n--b--\r\n',
         content_type="multipart/form-data; boundary=b", status=400),
    Case("Accept multipart (incremental/subscriptions)", STRAWBERRY, json={"query": QUERY},
         headers=[("accept", 'multipart/mixed;subscriptionSpec="1.0", application/json')]),
    Case("Accept text/event-stream", STRAWBERRY, json={"query": QUERY},
         headers=[("accept", "text/event-stream")]),
    Case("GET query", STRAWBERRY, method="GET", params={"query": QUERY}, content_type=None,
         status=200),
    Case("GET mutation: refused", STRAWBERRY, method="GET", content_type=None,
         params={"query": 'mutation { createProject(input: {id: "x", name: "x"}) { __typename } }'}),
    Case("GET GraphiQL page", STRAWBERRY, method="GET", content_type=None,
         headers=[("accept", "text/html")], status=200),
    Case("wrong key: 401 before the view", NEITHER, json={"query": QUERY}, key="wrong-key",
         status=401),
    Case("PUT: refused before the view", NEITHER, method="PUT", json={"query": QUERY}),
]


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    strawberry_runs: int


@pytest.fixture
async def view_client(database: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    from app.main import create_app

    app = create_app(database, manage_db=False)
    async with LifespanManager(app):
        limiter = app.state.rate_limiter
        limiter._clock = lambda: 1_000.0  # frozen: no refill between the two answers
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, limiter


@pytest.fixture
async def ids(view_client) -> dict[str, str]:
    http, _ = view_client
    project = unique("fast")
    headers = {"X-API-Key": WRITE_KEY}
    made = await http.post("/graphql", headers=headers, json={
        "query": 'mutation($id: ID!){ createProject(input: {id: $id, name: "p"}) { __typename } }',
        "variables": {"id": project}})
    assert made.json()["data"]["createProject"]["__typename"] == "Project", made.text
    build = await http.post("/graphql", headers=headers, json={
        "query": "mutation($p: ID!){ createBuild(input: {projectId: $p, buildNumber: 1}) "
                 "{ __typename ... on Build { id } } }", "variables": {"p": project}})
    return {"project": project, "build": build.json()["data"]["createBuild"]["id"]}


def _substitute(case: Case, ids: dict[str, str]) -> bytes | None:
    body = case.body()
    if body is None:
        return None
    for name, value in ids.items():
        body = body.replace(b"{%s}" % name.encode(), value.encode())
    return body


async def _send(
    view_client, monkeypatch: pytest.MonkeyPatch, case: Case, ids: dict[str, str], fast: bool,
) -> Answer:
    http, limiter = view_client
    monkeypatch.setattr(BuildstateGraphQL, "fast_path", fast)
    limiter._buckets.clear()
    if case.tokens is not None:
        limiter.take(("actor", "dev"), 0)  # the bucket exists…
        for bucket in limiter._buckets.values():
            bucket.tokens = case.tokens  # …with this much left
    runs = 0
    original_run = BuildstateGraphQL.run

    async def counted_run(self: BuildstateGraphQL, *args: Any, **kwargs: Any) -> Any:
        nonlocal runs
        runs += 1
        return await original_run(self, *args, **kwargs)

    headers: list[tuple[str, str]] = [("x-request-id", REQUEST_ID)]
    if case.key:
        headers.append(("x-api-key", case.key))
    if case.content_type:
        headers.append(("content-type", case.content_type))
    headers.extend(case.headers)
    params = None
    if case.params:
        params = {k: _substitute(Case("", FAST, content=v.encode()), ids).decode()
                  for k, v in case.params.items()}
    with monkeypatch.context() as patch:
        patch.setattr(BuildstateGraphQL, "run", counted_run)
        if case.patch:
            patch.setattr(project_service, "list_projects", _failure(case.patch))
        response = await http.request(
            case.method, "/graphql", content=_substitute(case, ids), headers=headers,
            params=params,
        )
    return Answer(response.status_code, list(response.headers.raw), response.content, runs)


def _failure(kind: str) -> Callable[..., Any]:
    async def fail(**kwargs: Any) -> Any:
        if kind == "db":
            raise ConnectionError("connection refused")
        raise RuntimeError("boom: an unexpected failure")

    return fail


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_fast_path_answers_as_strawberry_does(view_client, ids, monkeypatch, case) -> None:
    slow = await _send(view_client, monkeypatch, case, ids, fast=False)
    fast = await _send(view_client, monkeypatch, case, ids, fast=True)

    assert fast.status == slow.status
    assert fast.headers == slow.headers
    assert fast.body == slow.body
    if case.status is not None:
        assert fast.status == case.status, fast.body
    assert slow.strawberry_runs == (0 if case.path == NEITHER else 1)
    assert fast.strawberry_runs == (1 if case.path == STRAWBERRY else 0), (
        f"expected the {case.path} path")
    # Every answer of the view names its length (the body is not streamed).
    if case.path != NEITHER and not (case.method == "GET" and case.headers):
        assert (b"content-length", str(len(fast.body)).encode()) in fast.headers


async def test_fast_answers_a_json_query_with_the_expected_bytes(view_client, ids, monkeypatch) -> None:
    """Not only the same as Strawberry: the shape every client relies on."""
    answer = await _send(view_client, monkeypatch, Case("q", FAST, json={
        "query": 'query($id: ID!){ project(id: $id) { id name } }',
        "variables": {"id": "{project}"}}), ids, fast=True)
    assert answer.status == 200 and answer.strawberry_runs == 0
    assert answer.headers[:2] == [(b"content-length", str(len(answer.body)).encode()),
                                  (b"content-type", b"application/json")]
    assert (b"x-request-id", REQUEST_ID.encode()) in answer.headers
    body = orjson.loads(answer.body)
    assert body["data"] == {"project": {"id": ids["project"], "name": "p"}}
    assert set(body) <= {"data", "extensions"}


async def test_a_replayed_body_is_read_once_from_the_client(view_client, ids, monkeypatch) -> None:
    """A body the fast path reads and then leaves to Strawberry arrives in several chunks; the
    answer is Strawberry's own for the whole body."""
    http, _ = view_client
    monkeypatch.setattr(BuildstateGraphQL, "fast_path", True)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ projects(first: 1) { id } }", '
        yield b'"variables": [1]}'

    response = await http.post("/graphql", content=chunks(), headers={
        "content-type": "application/json", "x-api-key": WRITE_KEY})
    assert response.status_code == 400
    assert response.text == (
        "The GraphQL operation's `variables` must be an object or null, if provided.")


def test_the_flag_is_on_by_default() -> None:
    assert BuildstateGraphQL.fast_path is True


async def test_what_the_operation_sets_on_the_response_is_kept(view_client, ids, monkeypatch) -> None:
    """Resolvers and extensions reach Strawberry's sub-response as `info.context.response`:
    status, headers (a repeated one included) and a background task reach the client on both
    paths alike."""
    from starlette.background import BackgroundTask

    from schema.schema import schema

    original = schema.execute
    ran: list[str] = []

    async def execute(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        response = kwargs["context_value"].response
        response.status_code = 202
        response.headers["X-Operation"] = "seen"
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        response.background = BackgroundTask(ran.append, "done")
        return result

    monkeypatch.setattr(schema, "execute", execute)
    case = Case("q", FAST, json={"query": QUERY})
    slow = await _send(view_client, monkeypatch, case, ids, fast=False)
    fast = await _send(view_client, monkeypatch, case, ids, fast=True)
    assert (fast.status, fast.headers, fast.body) == (slow.status, slow.headers, slow.body)
    assert fast.status == 202 and fast.strawberry_runs == 0 and slow.strawberry_runs == 1
    assert (b"x-operation", b"seen") in fast.headers
    assert [v for k, v in fast.headers if k == b"set-cookie"] == [
        b"a=1; Path=/; SameSite=lax", b"b=2; Path=/; SameSite=lax"]
    assert ran == ["done", "done"]


@pytest.mark.parametrize("data", [
    {"big": 123456789012345678901234567890},  # beyond 64 bits: orjson refuses it
    {"text": "lone \ud800 surrogate"},  # not UTF-8: orjson refuses it
    {"text": "ünïcödé ✓", "n": [1, 2.5, None, True]},
], ids=["big integer", "lone surrogate", "plain"])
async def test_answers_orjson_cannot_write_are_the_standard_encoders(
    view_client, ids, monkeypatch, data,
) -> None:
    """The answer's JSON is encode_json's on both paths, its standard-library fallback included."""
    from strawberry.types import ExecutionResult

    from schema.schema import schema

    async def execute(*args: Any, **kwargs: Any) -> Any:
        return ExecutionResult(data=data, errors=None)

    monkeypatch.setattr(schema, "execute", execute)
    case = Case("q", FAST, json={"query": QUERY})
    slow = await _send(view_client, monkeypatch, case, ids, fast=False)
    fast = await _send(view_client, monkeypatch, case, ids, fast=True)
    assert (fast.status, fast.headers, fast.body) == (slow.status, slow.headers, slow.body)
    assert fast.strawberry_runs == 0 and fast.status == 200
    assert fast.body == BuildstateGraphQL(Settings()).encode_json({"data": data}).encode()
