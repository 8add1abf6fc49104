"""A mutation of one root field runs through `PlainListExecutor.execute_root_field`
(schema/execution.py) instead of graphql-core's `execute`; both must answer alike. Every test
runs the same call with `BuildstateSchema.lean_root_field` off (graphql-core's `execute`) and on
(ours), checks which path ran, and compares what the client sees (data, errors with message,
path, locations, extensions, the answer's extensions), the resolver's Info, the log lines and
the error metric. A graphql-core upgrade that changes its way to a root field fails here.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
import uuid
from pathlib import Path
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import pytest
import strawberry
from graphql import GraphQLError, parse
from graphql.pyutils import AbortController
from strawberry.types import Info

from app.metrics import GRAPHQL_ERRORS, GRAPHQL_OPERATIONS
from schema import execution
from schema.mutations import direct
from schema.execution import PlainListExecutor
from schema.schema import PIPELINE, BuildstateSchema, schema
from schema.variables import prepare
from tests import factories
from tests.graphql.support import context_for
from tests.graphql.test_h2_direct_resolvers import ACTORS, MUTATION, _document, _variables
from tests.graphql.test_mutation_fast_paths import GOOD, MODES, REFUSED, REGISTER


@contextmanager
def lean(the_schema: Any, on: bool) -> Iterator[list[Any]]:
    """The lean path on or off for the duration; yields the operations it ran."""
    ran: list[Any] = []
    original = PlainListExecutor._execute_root_field

    def counted(self: Any, *args: Any) -> Any:
        ran.append(args[1])
        return original(self, *args)

    before = the_schema.lean_root_field
    the_schema.lean_root_field = on
    PlainListExecutor._execute_root_field = counted  # type: ignore[method-assign]
    try:
        yield ran
    finally:
        PlainListExecutor._execute_root_field = original  # type: ignore[method-assign]
        the_schema.lean_root_field = before


def answer(result: Any) -> dict[str, Any]:
    """What a client would see."""
    return {"data": result.data,
            "errors": [e.formatted for e in result.errors] if result.errors else None,
            "extensions": result.extensions}


def _errors_metric() -> dict[tuple[Any, ...], float]:
    """The operation and error counters."""
    return {(s.name, *sorted(s.labels.items())): s.value
            for counter in (GRAPHQL_ERRORS, GRAPHQL_OPERATIONS) for m in counter.collect()
            for s in m.samples if s.name.endswith("_total")}


def _delta(before: dict, after: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


async def run(the_schema: Any, doc: str, on: bool, caplog: Any, variables: dict | None = None,
              context: Any = None, operation_name: str | None = None) -> tuple[dict, bool, Any]:
    """(answer, whether the lean path ran, log lines, metric change) of one call."""
    caplog.clear()
    metric = _errors_metric()
    with lean(the_schema, on) as ran:
        result = await the_schema.execute(doc, variable_values=variables, context_value=context,
                                          operation_name=operation_name)
    logs = [(r.name, r.levelname, r.getMessage(), r.exc_info and repr(r.exc_info[1]))
            for r in caplog.records]
    return answer(result), bool(ran), (logs, _delta(metric, _errors_metric()))


async def both(doc: str, caplog: Any, variables: dict | None = None, *, the_schema: Any = schema,
               context: Any = None, operation_name: str | None = None,
               lean_runs: bool = True) -> dict[str, Any]:
    """graphql-core's answer and ours to the same call, compared; returns ours."""
    theirs, ran, theirs_seen = await run(the_schema, doc, False, caplog, variables, context,
                                         operation_name)
    assert not ran
    mine, ran, mine_seen = await run(the_schema, doc, True, caplog, variables, context,
                                     operation_name)
    assert ran is lean_runs, (doc, mine)
    assert mine == theirs
    assert mine_seen == theirs_seen
    return mine


def _info_picture(info: Any) -> dict[str, Any]:
    """Every field of graphql-core's resolve info; the path as its keys and type names, the
    executor's helpers by type (they are bound to each operation's executor)."""
    picture = {}
    for name in info._fields:
        value = getattr(info, name)
        if name == "path":
            value = (value.as_list(), value.typename, value.prev)
        elif name == "async_helpers":
            value = type(value)
        picture[name] = value
    return picture


# --- The real schema's mutations ------------------------------------------------------------


@pytest.mark.parametrize("actor", sorted(ACTORS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(MUTATION.fields))
async def test_every_mutation_field(monkeypatch, caplog, name: str, mode: str,
                                    actor: str) -> None:
    """Every mutation with all its arguments, only the required ones and explicit nulls, by
    every kind of caller, its resolver answering null (the non-null field's error nulls
    `data`): the same answer and the same Info, or the same permission error."""
    field = MUTATION.fields[name]
    infos: list[dict[str, Any]] = []

    async def nothing(**_: Any) -> None:
        return None

    definition = field.extensions["strawberry-definition"]
    monkeypatch.setattr(definition.base_resolver, "wrapped_func", nothing)
    resolve = direct._resolver(definition, direct._plan(definition, schema.schema_converter),
                               schema.schema_converter)

    def recorded(source: Any, info: Any, **args: Any) -> Any:
        infos.append(_info_picture(info))
        return resolve(source, info, **args)

    monkeypatch.setattr(field, "resolve", recorded)
    context = context_for(ACTORS[actor])
    mine = await both(_document(name), caplog, _variables(name, mode), context=context)
    assert mine["data"] is None and mine["errors"]
    assert len(infos) == 2 and infos[0] == infos[1]
    assert infos[0]["context"] is context and infos[0]["field_name"] == name


async def _build(writer: Any) -> Any:
    return await factories.build(writer, await factories.project(writer))


async def test_register_artifact_answers(database, writer, reader, caplog) -> None:
    b = await _build(writer)
    build_id = str(b.id)
    context = context_for(writer)
    # Written: the same answer but for the new artifact's name (each run writes its own).
    theirs, ran, _ = await run(schema, REGISTER, False, caplog,
                               {"id": build_id, "input": {**GOOD, "artifactName": "x"}}, context)
    assert not ran
    mine, ran, _ = await run(schema, REGISTER, True, caplog,
                             {"id": build_id, "input": {**GOOD, "artifactName": "y"}}, context)
    assert ran
    assert theirs["data"]["registerArtifact"].pop("artifactName") == "x"
    assert mine["data"]["registerArtifact"].pop("artifactName") == "y"
    assert mine == theirs and mine["data"]["registerArtifact"]["__typename"] == "Artifact"
    # A conflict with the artifact just written, refused values, an unknown build.
    conflict = await both(REGISTER, caplog,
                          {"id": build_id, "input": {**GOOD, "artifactName": "y"}},
                          context=context)
    assert conflict["data"]["registerArtifact"]["__typename"] == "ConflictError"
    for change, _field, _message in REFUSED:
        await both(REGISTER, caplog, {"id": build_id, "input": {**GOOD, **change}},
                   context=context)
    await both(REGISTER, caplog, {"id": str(uuid.uuid4()), "input": GOOD}, context=context)
    # Unauthorised, unauthenticated.
    for actor in (reader, None):
        denied = await both(REGISTER, caplog, {"id": build_id, "input": GOOD},
                            context=context_for(actor))
        assert denied["data"] is None and denied["errors"][0]["path"] == ["registerArtifact"]
    # Variables that do not coerce: graphql-core's errors (the lean path does not run).
    await both(REGISTER, caplog, {"id": build_id, "input": {**GOOD, "stateCode": True}},
               context=context, lean_runs=False)
    # An alias, an inline literal, a named operation among others.
    aliased = REGISTER.replace("registerArtifact(", "r: registerArtifact(")
    await both(aliased, caplog, {"id": build_id, "input": {**GOOD, "artifactName": "y"}},
               context=context)
    named = ("mutation A($id: ID!) {"
             " deleteArtifact(buildId: $id, artifactId: $id) { __typename } }\n"
             + REGISTER.replace("mutation(", "mutation B("))
    await both(named, caplog, {"id": build_id, "input": {**GOOD, "artifactName": "y"}},
               context=context, operation_name="B")
    await both(named, caplog, {"id": build_id}, context=context, operation_name="A")


async def test_other_shapes_take_graphql_cores_path(database, writer, caplog) -> None:
    b = await _build(writer)
    context = context_for(writer)
    variables = {"id": str(b.id), "input": {**GOOD, "artifactName": "z"}}
    two = REGISTER.replace("registerArtifact(", "a: registerArtifact(").replace(
        "}\n}", "}\n  b: registerArtifact(buildId: $id, input: $input) { __typename }\n}")
    await run(schema, REGISTER, True, caplog, variables, context)  # written: then conflicts
    answered = await both(two, caplog, variables, context=context, lean_runs=False)
    assert answered["data"]["a"]["__typename"] == "ConflictError"
    skipped = REGISTER.replace("registerArtifact(buildId: $id, input: $input)",
                               "registerArtifact(buildId: $id, input: $input) @include(if: true)")
    await both(skipped, caplog, variables, context=context, lean_runs=False)
    spread = ("mutation($id: ID!) { ...F } "
              "fragment F on Mutation {"
              " deleteArtifact(buildId: $id, artifactId: $id) { __typename } }")
    await both(spread, caplog, {"id": str(uuid.uuid4())}, context=context, lean_runs=False)
    await both("mutation { __typename }", caplog, context=context, lean_runs=False)
    await both("{ __typename }", caplog, context=context, lean_runs=False)


# --- Resolvers that fail in every way, in a small schema with the same pipeline -------------


class Boom(Exception):
    pass


class Abort(BaseException):
    pass


@strawberry.type
class Artifactish:
    name: str


@strawberry.type
class Problem:
    message: str


Outcome = Annotated[Artifactish | Problem, strawberry.union("Outcome")]
INFOS: list[Any] = []


@strawberry.type
class _Query:
    ok: bool = True


@strawberry.type
class _Mutation:
    @strawberry.mutation
    def raises_now(self) -> int:
        raise Boom("now")

    @strawberry.mutation
    async def raises_later(self) -> int | None:
        raise Boom("later")

    @strawberry.mutation
    async def graphql_error(self) -> int | None:
        raise GraphQLError("told", extensions={"code": "TOLD"})

    @strawberry.mutation
    async def null_for_non_null(self) -> int:
        return None  # type: ignore[return-value]

    @strawberry.mutation
    async def an_exception(self) -> int | None:
        return Boom("returned")  # type: ignore[return-value]

    @strawberry.mutation
    async def wrong_type(self) -> int:
        return "seven"  # type: ignore[return-value]

    @strawberry.mutation
    async def aborts(self) -> int | None:
        raise Abort

    @strawberry.mutation
    def aborts_now(self) -> int | None:
        raise Abort

    @strawberry.mutation
    async def outcome(self, n: int, info: Info) -> Outcome:  # type: ignore[valid-type]
        INFOS.append(_info_picture(info._raw_info))
        if n == 0:
            return Artifactish(name="a")
        if n == 1:
            return Problem(message="p")
        return 42  # type: ignore[return-value]  # no member: graphql-core's error

    @strawberry.mutation
    def now(self, n: int = 3) -> list[Artifactish]:
        return [Artifactish(name=str(i)) for i in range(n)]


SMALL = BuildstateSchema(query=_Query, mutation=_Mutation, extensions=PIPELINE,
                         execution_context_class=PlainListExecutor)
FAILING = ["raisesNow", "raisesLater", "graphqlError", "nullForNonNull", "anException",
           "wrongType"]


@pytest.mark.parametrize("name", FAILING)
async def test_failing_resolvers(caplog, name: str) -> None:
    mine = await both(f"mutation {{ x: {name} }}", caplog, the_schema=SMALL, context={})
    assert mine["errors"] and mine["errors"][0]["path"] == ["x"]


async def test_unions_lists_and_info(caplog) -> None:
    doc = ("mutation($n: Int!) { outcome(n: $n) { __typename ... on Artifactish { name } "
           "... on Problem { message } } }")
    for n in (0, 1, 2):
        INFOS.clear()
        await both(doc, caplog, {"n": n}, the_schema=SMALL, context={})
        assert len(INFOS) == 2 and INFOS[0] == INFOS[1]
        assert INFOS[0]["path"][0] == ["outcome"]
    mine = await both("mutation { now(n: 2) { name __typename } }", caplog, the_schema=SMALL,
                      context={})
    assert mine["data"] == {"now": [{"name": "0", "__typename": "Artifactish"},
                                    {"name": "1", "__typename": "Artifactish"}]}
    await both("mutation { now { name } }", caplog, the_schema=SMALL, context={})


@pytest.mark.parametrize("name", ["aborts", "abortsNow"])
async def test_a_base_exception_goes_through(name: str) -> None:
    for on in (False, True):
        with lean(SMALL, on) as ran, pytest.raises(Abort):
            await SMALL.execute(f"mutation {{ {name} }}", context_value={})
        assert bool(ran) is on


def test_the_root_field_plan_is_per_document_and_operation() -> None:
    graphql_schema = SMALL._schema
    document = parse("mutation A { now { name } } mutation B { now { name } now2: now { name } }")
    a = prepare(graphql_schema, document, "A")
    b = prepare(graphql_schema, document, "B")
    assert a is not None and b is not None
    planned = execution._root_field(graphql_schema, a)
    assert planned is not None and planned[1] == "now"
    assert planned[2][0].node is a.operation.selection_set.selections[0]
    assert execution._root_field(graphql_schema, b) is None


def test_logging_is_captured(caplog) -> None:
    # The comparisons above read the log lines through caplog: make sure it sees this logger.
    caplog.set_level(logging.INFO)
    logging.getLogger("buildstate.graphql").error("seen")
    assert any(r.getMessage() == "seen" for r in caplog.records)


# --- `with_abort_signal` hands back the awaitable itself when there is no abort signal ------


def test_every_caller_of_with_abort_signal_awaits_it_at_once() -> None:
    """PlainListExecutor.with_abort_signal returns the awaitable, not a coroutine, when no
    abort signal is set: right only while graphql-core awaits every call at once (or calls it
    only with an abort signal, as `cancellable_iterable`)."""
    # The modules (graphql.execution's `execute` is also the function's name).
    executor_module = importlib.import_module("graphql.execution.executor")
    execute_module = importlib.import_module("graphql.execution.execute")
    assert inspect.ismodule(execute_module) and "await executor.with_abort_signal(" in (
        inspect.getsource(execute_module))
    import graphql
    import strawberry as strawberry_package
    files = [f for package in (graphql, strawberry_package)
             for f in Path(package.__file__).parent.rglob("*.py")]
    assert Path(executor_module.__file__) in files
    for file in files:
        source = file.read_text()
        # Calls, not the docstrings' "with_abort_signal()".
        for match in re.finditer(r"([^\n]*)with_abort_signal\((?!\))", source):
            line = match.group(1)
            if line.strip().startswith(("async def", "def")):
                continue
            assert line.rstrip().endswith("await executor.") or line.rstrip().endswith(
                "await self.") or line.strip() == "return", line  # cancellable_iterable's
    cancellable = inspect.getsource(executor_module.Executor.cancellable_iterable)
    assert "if self.abort_signal is None:\n            return iterable" in cancellable


async def test_with_abort_signal() -> None:
    executor = PlainListExecutor.build(SMALL._schema, parse("{ ok }"))

    async def value() -> int:
        return 7

    awaitable = value()
    assert executor.with_abort_signal(awaitable) is awaitable
    assert await awaitable == 7
    executor.abort_signal = AbortController().signal  # graphql-core's coroutine then
    wrapped = executor.with_abort_signal(value())
    assert inspect.iscoroutine(wrapped) and await wrapped == 7
