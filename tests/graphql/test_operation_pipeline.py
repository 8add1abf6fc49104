"""BuildstateSchema.execute runs our extensions' steps without Strawberry's extension runner
(schema/schema.py). Every operation of the table runs through it AND through Strawberry's own
`Schema.execute` (the extensions, driven by its runner), and everything observable must be the
same: the result's class, data, errors (message, path, locations, extensions), original errors,
`extensions`, the exception raised (the view's 400s), the metrics, the log lines, and what the
operation did to the HTTP response (status, Retry-After)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from tortoise.exceptions import DBConnectionError

from app.services.actor import Actor
from app.services.errors import NotFound
from db.pool import InvalidData
from schema import extensions_metrics
from schema.context import Context
from schema.schema import PIPELINE, BuildstateSchema, schema
from tests.conftest import make_actor, unique
from tests.graphql.support import SETTINGS

STRAWBERRY = strawberry.Schema.execute  # the extension runner's path
DIRECT = BuildstateSchema.execute

TOKENS = "{ " + " ".join(f"f{i}: __typename" for i in range(1100)) + " }"
DEEP = ('query { build(id: "00000000-0000-0000-0000-000000000000") { artifacts { build { '
        'artifacts { build { artifacts { build { artifacts { build { artifacts { id } } } } } } '
        '} } } } }')
COSTLY = "{ builds(first: 100) { edges { node { artifacts { build { artifacts { id } } } } } } }"
CREATE = """mutation($input: CreateProjectInput!) { createProject(input: $input) {
  __typename ... on Error { message code } ... on ConflictError { existingId }
  ... on Project { name } } }"""
SUBSCRIPTION = ('subscription { buildEvents(buildId: "00000000-0000-0000-0000-000000000000") '
                '{ id } }')
EXISTING = unique("pipeline")
SCOPES = {"reader": "read", "writer": "write"}


class Bucket:
    """A rate-limit handle (app.ratelimit.RateLimitHandle's shape) that always answers `wait`."""

    def __init__(self, wait: float | None) -> None:
        self.wait = wait
        self.limiter = self
        self.identity = ("key", "x")

    def take(self, cost: float) -> float | None:
        return self.wait

    def remaining(self, identity: object) -> float:
        return 42.7


class Request:
    def __init__(self, state: dict[str, Any]) -> None:
        self.scope = {"state": state}


class Response:
    def __init__(self) -> None:
        self.status_code = 200
        self.headers: dict[str, str] = {}


def _raise(exc: Exception) -> Callable[..., Any]:
    async def broken(**kwargs: Any) -> Any:
        raise exc

    return broken


@dataclass
class Case:
    name: str
    doc: str | None
    actor: str | None = "reader"
    variables: Callable[[], dict[str, Any]] | dict[str, Any] | None = None
    operation_name: str | None = None
    allowed: set[OperationType] | None = None
    list_projects: Exception | None = None  # app.services.projects.list_projects raises it
    state: dict[str, Any] = field(default_factory=lambda: {"request_id": "req-7"})
    # What the case is about (so that two equal wrong answers cannot pass): a code among the
    # errors, "data", or the name of the exception raised.
    expect: str = "data"


CASES = [
    Case("query", "{ projects(first: 5) { id name } }"),
    Case("named query among several",
         "query A { __typename } query B { projects(first: 2) { id } }", operation_name="B"),
    Case("mutation", CREATE, actor="writer",
         variables=lambda: {"input": {"id": unique("pipeline"), "name": "n"}}),
    Case("mutation with a typed error", CREATE, actor="writer",
         variables={"input": {"id": EXISTING, "name": "n"}}),
    Case("mutation refused to a reader", CREATE, actor="reader",
         variables={"input": {"id": EXISTING, "name": "n"}}, expect="FORBIDDEN"),
    Case("validation error", "{ projects(first: 1) { nope } }", expect="GRAPHQL_VALIDATION"),
    Case("unused variable", "query($n: Int) { __typename }", expect="GRAPHQL_VALIDATION"),
    Case("parse error", "{ projects(first: 1) { id }", expect="GRAPHQL_PARSE"),
    Case("token limit", TOKENS, expect="GRAPHQL_PARSE"),
    Case("depth limit", DEEP, expect="QUERY_TOO_DEEP"),
    Case("cost limit", COSTLY, expect="QUERY_TOO_COSTLY"),
    Case("page size", "{ projects(first: 0) { id } }", expect="VALIDATION"),
    Case("cost charged", "{ projects(first: 3) { id } }", state={"rate_limit": Bucket(None)}),
    Case("rate limited", "{ projects(first: 3) { id } }", state={"rate_limit": Bucket(2.5)},
         expect="RATE_LIMITED"),
    Case("domain error with a code", "{ projects(first: 1) { id } }", actor=None,
         expect="UNAUTHENTICATED"),
    Case("domain error raised by a resolver", "{ projects(first: 1) { id } }",
         list_projects=NotFound("no such thing"), expect="NOT_FOUND"),
    Case("unexpected error, masked with the request id", "{ projects(first: 1) { id } }",
         list_projects=RuntimeError("secret internals: password=hunter2"),
         expect="INTERNAL_SERVER_ERROR"),
    Case("unexpected error, masked without a request id", "{ projects(first: 1) { id } }",
         list_projects=RuntimeError("secret"), state={}, expect="INTERNAL_SERVER_ERROR"),
    Case("database unavailable", "{ projects(first: 1) { id } }",
         list_projects=DBConnectionError("connection refused"), expect="UNAVAILABLE"),
    Case("value the database refused", "{ projects(first: 1) { id } }",
         list_projects=InvalidData("bad value"), expect="VALIDATION"),
    Case("variables coercion error", "query($f: Int!) { projects(first: $f) { id } }",
         variables={"f": "x"}, expect="BAD_USER_INPUT"),
    Case("missing variable", "query($f: Int!) { projects(first: $f) { id } }",
         expect="BAD_USER_INPUT"),
    Case("unknown operationName", "query A { __typename }", operation_name="B",
         expect="CannotGetOperationTypeError"),
    Case("no operation at all", "fragment F on Query { __typename }",
         expect="CannotGetOperationTypeError"),
    Case("missing query", None, expect="MissingQueryError"),
    Case("empty query", "", expect="MissingQueryError"),
    Case("mutation over GET", CREATE, actor="writer", allowed={OperationType.QUERY},
         variables={"input": {"id": EXISTING, "name": "n"}}, expect="InvalidOperationTypeError"),
    Case("query over GET", "{ projects(first: 1) { id } }", allowed={OperationType.QUERY}),
    Case("subscription over POST", SUBSCRIPTION,
         allowed={OperationType.QUERY, OperationType.MUTATION}, expect="InvalidOperationTypeError"),
    # As Strawberry does: an exception before execution is answered, unmasked.
    Case("query that is not text", 12, expect="UNMASKED"),  # type: ignore[arg-type]
]


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str, type | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[0] if record.exc_info else None
        self.lines.append((record.levelname, record.getMessage(), exc))


def _codes(outcome: dict[str, Any]) -> list[str]:
    return [str((e.get("extensions") or {}).get("code")) for e in outcome.get("errors", [])]


def _classify(outcome: dict[str, Any]) -> str:
    """What the answer is, in the vocabulary of Case.expect."""
    if "raised" in outcome:
        return outcome["raised"][0]
    if not outcome["errors"]:
        return "data"
    code = _codes(outcome)[0]
    if code != "None":
        return code
    message = outcome["errors"][0]["message"]
    if message.startswith("Syntax Error") or "tokens" in message:
        return "GRAPHQL_PARSE"
    if not issubclass(outcome["originals"][0], (type(None), GraphQLError)):
        return "UNMASKED"
    if outcome["result_class"] is PreExecutionError:
        return "GRAPHQL_VALIDATION"
    return "BAD_USER_INPUT"  # variables graphql-core refused as the operation began


async def _run(execute: Callable[..., Any], case: Case, monkeypatch: pytest.MonkeyPatch,
               variables: dict[str, Any] | None) -> dict[str, Any]:
    from app.services import projects

    observed: list[tuple[Any, ...]] = []

    def observe(name: str | None, op_type: str, seconds: float, errors: int) -> None:
        assert seconds >= 0
        observed.append((name, op_type, errors))

    monkeypatch.setattr(extensions_metrics, "observe_graphql", observe)
    processed: list[list[str]] = []  # what Schema.process_errors was given, before masking

    def process_errors(errors: list[Any], execution_context: Any = None) -> None:
        processed.append([e.message for e in errors])
        BuildstateSchema.process_errors(schema, errors, execution_context)

    monkeypatch.setattr(schema, "process_errors", process_errors)
    if case.list_projects is not None:
        monkeypatch.setattr(projects, "list_projects", _raise(case.list_projects))
    actor: Actor | None = (make_actor(case.actor, SCOPES[case.actor]) if case.actor else None)
    response = Response()
    context = Context(request=Request(dict(case.state)), actor=actor, settings=SETTINGS,
                      response=response)  # type: ignore[arg-type]
    lines = Lines()
    logger = logging.getLogger("buildstate.graphql")
    logger.addHandler(lines)
    outcome: dict[str, Any] = {}
    try:
        result = await execute(
            schema, case.doc, variable_values=variables, context_value=context,
            operation_name=case.operation_name, allowed_operation_types=case.allowed,
        )
    except Exception as exc:
        reason = getattr(exc, "as_http_error_reason", None)
        outcome["raised"] = (type(exc).__name__, str(exc),
                             reason("GET") if case.allowed and reason else
                             reason() if reason and not case.allowed else None)
    else:
        errors = result.errors or []
        outcome.update(
            result_class=type(result),
            data=result.data,
            errors=[e.formatted for e in errors],
            originals=[type(e.original_error) for e in errors],
            extensions=result.extensions,
        )
    finally:
        logger.removeHandler(lines)
        monkeypatch.undo()
    outcome.update(metrics=observed, logs=lines.lines, processed=processed,
                   response=(response.status_code, response.headers))
    return outcome


@pytest.fixture
async def existing_project(database, writer) -> None:
    from db.models import Project
    from app.services import projects
    from app.services.commands import CreateProject

    if not await Project.filter(id=EXISTING).exists():
        await projects.create_project(actor=writer, command=CreateProject(id=EXISTING, name="n"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_the_direct_pipeline_answers_as_strawberrys(
    database, existing_project, case: Case, monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcomes = []
    for execute in (STRAWBERRY, DIRECT):
        variables = case.variables() if callable(case.variables) else case.variables
        outcomes.append(await _run(execute, case, monkeypatch, variables))
    original, direct = outcomes
    assert direct == original
    assert _classify(direct) == case.expect, direct
    assert len(direct["metrics"]) == 1, "every operation is counted once"


# Where the direct pipeline answers differently from Strawberry's, on purpose.
DIFFERS = [
    # Strawberry runs a subscription document as a query (its root field's async generator
    # where an object is due): a masked "Unexpected error." and a logged traceback. Refused.
    (Case("subscription document executed", SUBSCRIPTION, expect="INTERNAL_SERVER_ERROR",
          allowed={OperationType.QUERY, OperationType.MUTATION, OperationType.SUBSCRIPTION}),
     "InvalidOperationTypeError"),
    # Strawberry runs the first of several unnamed-by-the-client operations; the spec's
    # GetOperation (graphql-core) asks for the operation name.
    (Case("two operations, no operation name", "query A { __typename } query B { __typename }",
          expect="data"), "BAD_USER_INPUT"),
]


@pytest.mark.parametrize(("case", "direct_expect"), DIFFERS, ids=[c.name for c, _ in DIFFERS])
async def test_where_the_direct_pipeline_differs_on_purpose(
    database, case: Case, direct_expect: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = await _run(STRAWBERRY, case, monkeypatch, None)
    direct = await _run(DIRECT, case, monkeypatch, None)
    assert _classify(original) == case.expect, original
    assert _classify(direct) == direct_expect, direct
    assert not direct["logs"], "nothing unexpected happened"
    assert len(direct["metrics"]) == 1, "every operation is counted once"


async def test_every_case_means_what_it_says(database, existing_project,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A few absolute facts, so that both paths cannot be wrong the same way."""
    by_name = {c.name: c for c in CASES}

    async def direct(name: str) -> dict[str, Any]:
        case = by_name[name]
        variables = case.variables() if callable(case.variables) else case.variables
        return await _run(DIRECT, case, monkeypatch, variables)

    masked = await direct("unexpected error, masked with the request id")
    assert masked["errors"][0]["message"] == "Unexpected error (request id req-7)."
    assert masked["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR",
                                                 "requestId": "req-7"}
    assert masked["logs"] == [("ERROR", "unexpected error at ['projects']: secret internals: "
                               "password=hunter2", RuntimeError)]
    assert masked["metrics"] == [(None, "query", 1)]  # one error, counted once
    down = await direct("database unavailable")
    assert down["response"][0] == 503 and "Retry-After" in down["response"][1]
    assert down["errors"][0]["message"] == "the database is unavailable; retry shortly"
    # An outage is one ERROR line without a traceback (as the REST shim logs it), not an
    # "unexpected error" with one.
    assert down["logs"] == [("ERROR", "database unavailable at ['projects']: connection refused",
                             None)]
    conflict = await direct("mutation with a typed error")
    assert conflict["data"]["createProject"]["code"] == "CONFLICT"
    charged = await direct("cost charged")
    assert charged["extensions"] == {"cost": {"requested": 3, "limit": 10_000,
                                              "rateLimitRemaining": 42}}
    limited = await direct("rate limited")
    assert limited["response"] == (429, {"Retry-After": "3"})
    assert limited["extensions"] == {"cost": {"requested": 3, "limit": 10_000,
                                              "rateLimitRemaining": 42}}
    assert limited["metrics"] == [(None, "query", 1)]
    assert (await direct("query"))["extensions"] == {"cost": {"requested": 5, "limit": 10_000}}
    assert (await direct("validation error"))["extensions"] == {}
    assert (await direct("parse error"))["metrics"] == [(None, "unknown", 1)]
    assert (await direct("missing query"))["metrics"] == [(None, "unknown", 1)]
    assert (await direct("mutation over GET"))["metrics"] == [(None, "mutation", 1)]
    named = await direct("named query among several")
    assert named["metrics"] == [("B", "query", 0)]


async def test_other_extensions_take_strawberrys_path(database, reader,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """An extension the direct pipeline does not know makes execute take Strawberry's path."""
    from strawberry.extensions import SchemaExtension

    class Extra(SchemaExtension):
        def get_results(self) -> dict[str, Any]:
            return {"extra": True}

    context = Context(request=None, actor=reader, settings=SETTINGS)
    monkeypatch.setattr(schema, "extensions", (*PIPELINE, Extra))
    result = await schema.execute("{ projects(first: 1) { id } }", context_value=context)
    assert result.extensions == {"cost": {"requested": 1, "limit": 10_000}, "extra": True}
    monkeypatch.undo()
    result = await schema.execute("{ projects(first: 1) { id } }", context_value=context)
    assert result.extensions == {"cost": {"requested": 1, "limit": 10_000}}


async def test_incremental_delivery_takes_strawberrys_path(database, reader,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With @defer/@stream enabled, results may be incremental: Strawberry's path."""
    calls = []

    async def counting(self, *args, **kwargs):
        calls.append(args)
        return await STRAWBERRY(self, *args, **kwargs)

    monkeypatch.setattr(strawberry.Schema, "execute", counting)
    context = Context(request=None, actor=reader, settings=SETTINGS)
    await schema.execute("{ __typename }", context_value=context)
    assert calls == []
    monkeypatch.setattr(schema.config, "enable_experimental_incremental_execution", True)
    await schema.execute("{ __typename }", context_value=context)
    assert len(calls) == 1


def test_validation_is_kept_by_document_and_rules() -> None:
    """The errors kept by document identity (schema.schema.validate_document) are those of the
    document and rules asked about."""
    from graphql import parse, specified_rules
    from strawberry.types import ExecutionContext

    from schema.schema import validate_document

    def errors(document: Any, rules: tuple[Any, ...]) -> list[str]:
        ctx = ExecutionContext(query="", schema=schema, allowed_operations=(),
                               validation_rules=rules)
        ctx.graphql_document = document
        validate_document(ctx)
        assert ctx.pre_execution_errors is not None
        return [e.message for e in ctx.pre_execution_errors]

    text = "{ projects(first: 1) { nope } }"
    document = parse(text)
    rules = tuple(specified_rules)
    expected = ["Cannot query field 'nope' on type 'Project'. Did you mean 'name'?"]
    assert errors(document, rules) == expected
    assert errors(document, tuple(specified_rules)) == expected  # kept: equal rules
    assert errors(parse(text), rules) == expected  # an equal document parsed anew
    assert errors(document, ()) == []  # other rules: validated again
    assert errors(parse("{ __typename }"), rules) == []


HTTP_CASES = [
    ("POST", {"query": "{ projects(first: 2) { id } }"}, {}),
    ("GET", {"query": "{ projects(first: 2) { id } }"}, {}),
    ("POST", {"query": "{ projects(first: 1) { nope } }"}, {}),
    ("POST", {"query": "{ projects(first: 1) { id }"}, {}),
    ("POST", {"query": "query A { __typename }", "operationName": "B"}, {}),
    ("POST", {"variables": {}}, {}),
    ("POST", {"query": 12}, {}),
    ("GET", {"query": 'mutation { createProject(input: {id: "via-get", name: "x"}) { '
             "__typename } }"}, {}),
    ("POST", {"query": "query($f: Int!) { projects(first: $f) { id } }",
              "variables": {"f": "x"}}, {}),
    ("POST", {"query": "{ projects(first: 1) { id } }"}, {"X-API-Key": ""}),
    ("POST", {"query": "{ projects(first: 1) { id } }"}, {"X-Request-ID": "req-http-1",
                                                         "x-break": "unexpected"}),
    ("POST", {"query": "{ projects(first: 1) { id } }"}, {"x-break": "database"}),
]


async def test_over_http_the_answers_are_strawberrys(client, monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    """The view's statuses (400 for a missing query, an unknown operation, a mutation over
    GET; 503 + Retry-After for the database), headers and bodies, by either path; and the view
    does use the direct pipeline."""
    from app.services import projects

    calls = []

    async def counting(self, *args, **kwargs):
        calls.append(args)
        return await STRAWBERRY(self, *args, **kwargs)

    async def answers() -> list[tuple[Any, ...]]:
        out = []
        for method, payload, headers in HTTP_CASES:
            broken = headers.get("x-break")
            with monkeypatch.context() as patch:
                if broken:
                    patch.setattr(projects, "list_projects", _raise(
                        RuntimeError("secret") if broken == "unexpected"
                        else DBConnectionError("down")))
                if method == "GET":
                    answer = await client.get("/graphql", params=payload, headers=headers)
                else:
                    answer = await client.post("/graphql", json=payload, headers=headers)
            try:
                body: Any = answer.json()
            except ValueError:
                body = answer.text
            if isinstance(body, dict) and "extensions" in body:
                # What is left in the bucket depends on how many requests ran before.
                assert body["extensions"]["cost"].pop("rateLimitRemaining") > 0
            out.append((answer.status_code, answer.headers.get("retry-after"), body))
        return out

    await client.post("/graphql", json={"query": "{ __typename }"})  # warm the key cache
    monkeypatch.setattr(strawberry.Schema, "execute", counting)
    direct = await answers()
    assert calls == [], "the view runs BuildstateSchema.execute's own pipeline"
    monkeypatch.setattr(BuildstateSchema, "execute", counting)
    original = await answers()
    assert len(calls) == len(HTTP_CASES) - 1  # the view refuses a query that is not text
    assert direct == original
    assert [status for status, _, _ in direct] == [200, 200, 200, 200, 400, 400, 400, 400, 200,
                                                   200, 200, 503]
    assert direct[10][2]["errors"][0]["extensions"]["requestId"] == "req-http-1"
    assert direct[11][1] is not None
