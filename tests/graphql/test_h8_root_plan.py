"""The root field's plan (`schema/root_field.py` `_RootPlan`): a one-root-field mutation's
arguments, its value's completion and graphql-core's `complete_awaitable_value` inline.

- `_RootPlan.arguments` against graphql-core's `get_argument_values` on every kind of argument
  (variables given, missing, null, defaults, literals, required absent), answers and errors;
- the union completion straight to the member's tree against the general path (the lean path
  off: graphql-core's `execute`), for every member, a value no member takes, an @include in
  the selection (then the general path completes), and that the shortcut does run;
- the graphql-core 3.3.2 functions the plan follows are pinned by their source: an upgrade that
  changes one of them fails here and must be read again.
"""

from __future__ import annotations

import hashlib
import inspect
from typing import Annotated, Any

import pytest
import strawberry
from graphql import GraphQLError, build_schema, parse
from graphql.execution import executor as graphql_executor
from graphql.execution import values as graphql_values
from graphql.execution.values import get_argument_values, get_variable_values

from schema import execution
from schema.execution import PlainListExecutor, _RootPlan
from schema.schema import PIPELINE, BuildstateSchema
from tests.graphql.test_h5_root_field import both

ARGS_SDL = """
input In { a: Int! b: String = "x" }
type Query { ok: Boolean }
type Mutation {
  f(req: Int!, opt: String, dflt: Int = 7, obj: In, lst: [Int!], nn: In!,
    dobj: In = {a: 1}): String
}
"""
ARGS_SCHEMA = build_schema(ARGS_SDL)
FIELD = ARGS_SCHEMA.mutation_type.fields["f"]
VARS = "($r: Int, $o: String, $d: Int = 3, $i: In, $l: [Int!], $n: In)"

CALLS = [
    ("f(req: $r, nn: $n)", {"r": 1, "n": {"a": 2}}),
    ("f(req: $r, nn: $n)", {"r": None, "n": {"a": 2}}),  # null for a non-null argument
    ("f(req: $r, nn: $n)", {"n": {"a": 2}}),  # a missing variable for a required one
    ("f(req: $r, nn: $n, opt: $o, dflt: $d)", {"r": 1, "n": {"a": 1}}),  # $d's default
    ("f(req: $r, nn: $n, opt: $o, dflt: $d)", {"r": 1, "n": {"a": 1}, "o": None, "d": None}),
    ("f(req: $r, nn: $n, obj: $i, lst: $l)", {"r": 1, "n": {"a": 1}, "i": {"a": 5},
                                              "l": [1, 2]}),
    ("f(req: $r, nn: $n, obj: $i, lst: $l)", {"r": 1, "n": {"a": 1}, "l": 3}),
    ("f(req: 4, nn: {a: 1}, opt: \"lit\", obj: {a: $r}, lst: [1, $r])", {"r": 9}),
    ("f(req: 4, nn: {a: 1}, dflt: null, dobj: null)", {}),
    ("f(nn: {a: 1})", {}),  # a required argument absent
    ("f(req: 1, nn: {a: $r})", {"r": None}),  # a null inside a literal
    ("f(req: 1, nn: $i)", {}),  # a nullable variable absent for a non-null argument
    ("f(req: 1, nn: {a: 1}, dobj: $i)", {}),  # absent: the argument's default
    ("f(req: 1, nn: {a: 1}, dobj: $i)", {"i": None}),  # null given: null
]


def _outcome(call: Any) -> Any:
    try:
        return ("ok", call())
    except GraphQLError as error:
        return ("error", error.message, error.nodes, error.path)


@pytest.mark.parametrize("hide", [False, True])
@pytest.mark.parametrize(("selection", "inputs"), CALLS)
def test_arguments_as_graphql_core_takes_them(selection: str, inputs: dict, hide: bool) -> None:
    document = parse(f"mutation{VARS} {{ {selection} }}")
    operation = document.definitions[0]
    node = operation.selection_set.selections[0]
    variable_values = get_variable_values(ARGS_SCHEMA, operation.variable_definitions, inputs)
    assert not isinstance(variable_values, list), variable_values
    plan = _RootPlan(FIELD, node)
    mine = _outcome(lambda: plan.arguments(variable_values, hide))
    theirs = _outcome(lambda: get_argument_values(FIELD, node, variable_values, None, hide))
    assert mine == theirs
    if mine[0] == "ok":  # the same order too
        assert list(mine[1]) == list(theirs[1])


def test_argument_defaults_are_graphql_cores_own_objects() -> None:
    node = parse("mutation { f(req: 1, nn: {a: 1}) }").definitions[0].selection_set.selections[0]
    variable_values = get_variable_values(ARGS_SCHEMA, (), {})
    mine = _RootPlan(FIELD, node).arguments(variable_values, False)
    theirs = get_argument_values(FIELD, node, variable_values)
    assert mine == theirs and mine["dobj"] is theirs["dobj"]


# --- The union's completion -------------------------------------------------------------------


@strawberry.type
class Made:
    name: str
    size: int | None = None


@strawberry.type
class Refused:
    message: str
    code: str


@strawberry.type
class Other:
    name: str


Result = Annotated[Made | Refused, strawberry.union("Result")]


@strawberry.type
class _Query:
    ok: bool = True


@strawberry.type
class _Mutation:
    @strawberry.mutation
    async def make(self, n: int) -> Result:  # type: ignore[valid-type]
        if n == 0:
            return Made(name="m", size=3)
        if n == 1:
            return Refused(message="no", code="NO")
        if n == 2:
            return Made(name=None, size=1)  # type: ignore[arg-type]  # null for non-null
        if n == 3:
            return Made(name="m", size="big")  # type: ignore[arg-type]  # refused scalar
        if n == 4:
            return Other(name="o")  # type: ignore[return-value]  # no member
        return None  # type: ignore[return-value]

    @strawberry.mutation
    def make_now(self, n: int) -> Result:  # type: ignore[valid-type]
        return Made(name=str(n))


SMALL = BuildstateSchema(query=_Query, mutation=_Mutation, extensions=PIPELINE,
                         execution_context_class=PlainListExecutor)
DOC = ("mutation($n: Int!) { make(n: $n) { __typename ... on Made { name size } "
       "... on Refused { code message } } }")


@pytest.fixture
def trees(monkeypatch: Any) -> list[Any]:
    """The member trees the plan completed with."""
    ran: list[Any] = []
    original = execution._complete_tree

    def counted(tree: Any, *args: Any) -> Any:
        ran.append(tree)
        return original(tree, *args)

    monkeypatch.setattr(execution, "_complete_tree", counted)
    return ran


@pytest.mark.parametrize("n", range(6))
async def test_union_completion_as_the_general_path(caplog, trees, n: int) -> None:
    mine = await both(DOC, caplog, {"n": n}, the_schema=SMALL, context={})
    if n in (0, 1):
        assert mine["data"]["make"]["__typename"] == ("Made", "Refused")[n]
        assert trees  # the member's tree completed it
    else:
        assert mine["errors"]


async def test_the_shortcut_is_the_member_tree_of_the_general_path(caplog, trees,
                                                                   monkeypatch) -> None:
    abstract: list[Any] = []
    original = PlainListExecutor.complete_abstract_value

    def counted(self: Any, *args: Any) -> Any:
        abstract.append(args)
        return original(self, *args)

    monkeypatch.setattr(PlainListExecutor, "complete_abstract_value", counted)
    await both(DOC, caplog, {"n": 0}, the_schema=SMALL, context={})
    # graphql-core's path (first) went through complete_abstract_value to the member's tree;
    # the plan (second) went to the same tree straight away.
    assert len(abstract) == 1
    assert len(trees) == 2 and trees[0] is trees[1]


async def test_directives_in_the_selection_take_the_general_completion(caplog) -> None:
    doc = ("mutation($n: Int!, $s: Boolean!) { make(n: $n) { __typename "
           "... on Made { name size @include(if: $s) } } }")
    for skip in (True, False):
        mine = await both(doc, caplog, {"n": 0, "s": skip}, the_schema=SMALL, context={})
        assert ("size" in mine["data"]["make"]) is skip


async def test_a_synchronous_resolver(caplog) -> None:
    mine = await both("mutation { x: makeNow(n: 5) { __typename ... on Made { name } } }",
                      caplog, the_schema=SMALL, context={})
    assert mine["data"] == {"x": {"__typename": "Made", "name": "5"}}


# --- graphql-core's functions that the plan follows --------------------------------------------

PINNED = {
    # graphql-core 3.3.2: `_execute_planned_field` is `execute_field`, `_await_root_field` inlines
    # `complete_awaitable_value`, `_RootPlan.arguments` is `get_argument_values` with
    # `coerce_argument`'s variable case.
    "execute_field": graphql_executor.Executor.execute_field,
    "complete_awaitable_value": graphql_executor.Executor.complete_awaitable_value,
    "get_argument_values": graphql_values.get_argument_values,
    "coerce_argument": graphql_values.coerce_argument,
    "maybe_use_default_value": graphql_values.maybe_use_default_value,
}


def _digest(function: Any) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


DIGESTS = {
    "execute_field": "5281dc836ecc24a0",
    "complete_awaitable_value": "9a67e9f91f0aac5c",
    "get_argument_values": "9bb6b1486b9feff1",
    "coerce_argument": "ae378050e608ebcb",
    "maybe_use_default_value": "8dbc73fb45dfbb92",
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_followed_graphql_core_functions_are_unchanged(name: str) -> None:
    assert _digest(PINNED[name]) == DIGESTS[name], (
        f"graphql-core's {name} changed: read schema/root_field.py's plan again")
