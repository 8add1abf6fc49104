"""The compiled variable coercion (schema/variables.py) and PlainListExecutor.build against
graphql-core's own: for every operation and input of the tables, valid or not,

- `PreparedOperation.coerce` gives what `get_variable_values` gives (sources and coerced
  values, with their types), and raises NotCoerced exactly when graphql-core answers errors;
- `PlainListExecutor.build` gives the same executor state (operation, fragments, variables)
  or the same errors (message, locations, path) as graphql-core's `build` (through Strawberry's executor class).

A graphql-core or Strawberry upgrade that changes a coercion or an error fails here."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
from graphql import (
    GraphQLArgument,
    GraphQLError,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    build_schema,
    parse,
)
from graphql.execution import get_variable_values
from graphql.execution.middleware import MiddlewareManager
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution import PlainListExecutor
from schema.schema import schema as buildstate_schema
from schema.variables import NotCoerced, prepare

SDL = build_schema('''
directive @oneOf on INPUT_OBJECT
enum Color { RED GREEN }
input Inner { n: Int! = 3, tags: [String!], color: Color = GREEN }
input Outer { inner: Inner!, inners: [[Inner]], name: String = "x", ids: [ID!]! }
input Tree { value: Int, children: [Tree!] }
input Choice @oneOf { a: Int, b: String }
type Query {
  f(o: Outer, i: Inner, l: [[Int!]], c: Color, t: Tree, ch: Choice, s: String, n: Int,
    b: Boolean, x: Float, id: ID): Int
}
''')

OUT = GraphQLInputObjectType(
    "Renamed",
    {"camelName": GraphQLInputField(GraphQLNonNull(GraphQLInt), out_name="snake_name"),
     "other": GraphQLInputField(GraphQLString, default_value="dflt", out_name="other_out")},
    out_type=lambda d: ("out", tuple(sorted(d.items()))),
)
OUT_SCHEMA = GraphQLSchema(GraphQLObjectType("Query", {
    "g": GraphQLField(GraphQLInt, {"r": GraphQLArgument(OUT)}),
}))

SDL_OPS = {
    "outer": "query($o: Outer!) { f(o: $o) }",
    "nullable": "query($o: Outer, $i: Inner) { f(o: $o, i: $i) }",
    "lists": "query($l: [[Int!]]) { f(l: $l) }",
    "enum": "query($c: Color = RED) { f(c: $c) }",
    "enum_required": "query($c: Color!) { f(c: $c) }",
    "scalars": "query($s: String, $n: Int!, $b: Boolean, $x: Float, $id: ID) "
               "{ f(s: $s, n: $n, b: $b, x: $x, id: $id) }",
    "defaults": 'query($s: String = "d", $n: Int = 4, $i: Inner = {n: 1}) '
                "{ f(s: $s, n: $n, i: $i) }",
    "tree": "query($t: Tree) { f(t: $t) }",
    "oneof": "query($ch: Choice) { f(ch: $ch) }",
    "fragment": "query($n: Int) { ...F } fragment F on Query { f(n: $n) }",
    "two_ops": "query A($n: Int) { f(n: $n) } query B($s: String) { f(s: $s) }",
}

INNER = {"n": 1, "tags": ["a", "b"], "color": "RED"}
OUTER = {"inner": INNER, "inners": [[INNER, None], None], "ids": ["1", 2]}

SDL_INPUTS: list[dict[str, Any]] = [
    {}, {"o": None}, {"o": OUTER}, {"o": {**OUTER, "name": None}}, {"o": {**OUTER, "extra": 1}},
    {"o": {"inner": {}, "ids": []}}, {"o": {"inner": INNER}}, {"o": {**OUTER, "ids": "7"}},
    {"o": {**OUTER, "ids": [None]}}, {"o": {**OUTER, "inner": {"n": "1"}}},
    {"o": {**OUTER, "inner": {"n": 2 ** 40}}}, {"o": {**OUTER, "inner": {"color": "BLUE"}}},
    {"o": {**OUTER, "inner": {"tags": "solo"}}}, {"o": {**OUTER, "inner": {"tags": [1]}}},
    {"o": {**OUTER, "inners": INNER}}, {"o": {**OUTER, "inners": [INNER]}}, {"o": [OUTER]},
    {"o": "text"}, {"i": INNER, "o": OUTER}, {"i": {"n": None}}, {"i": {"n": True}},
    {"l": [[1, 2], [3]]}, {"l": [[1, None]]}, {"l": 5}, {"l": [5]}, {"l": [[1.5]]},
    {"l": [[]]}, {"l": None}, {"l": "1"}, {"l": [["1"]]}, {"l": ({1, 2},)},
    {"c": "RED"}, {"c": "red"}, {"c": None}, {"c": 1}, {"c": "GREEN"},
    {"s": "a", "n": 1, "b": True, "x": 1.5, "id": "z"}, {"n": 1, "x": 1}, {"n": 1, "id": 5},
    {"n": 1, "id": 1.5}, {"n": 1, "b": "true"}, {"n": 1, "x": "1.5"}, {"n": 1, "s": 5},
    {"n": None}, {"n": 1.0}, {"n": 1.5}, {"n": float("nan")}, {"n": 1, "x": float("inf")},
    {"s": None, "n": 1}, {"i": {"n": 9}}, {"i": None}, {"s": "given"},
    {"t": {"value": 1, "children": [{"value": 2}]}}, {"t": {"children": [None]}},
    {"ch": {"a": 1}}, {"ch": {"a": 1, "b": "x"}}, {"ch": {"a": None}}, {"ch": {}},
]

REGISTER = ("mutation($b: ID!, $i: RegisterArtifactInput!){ registerArtifact(buildId:$b, "
            "input:$i){ __typename ... on Artifact { id } ... on Error { code message } } }")
GOOD = {"stateCode": 20, "artifactName": "a", "artifactType": "vm_snapshot",
        "artifactPath": "s3://b/k", "storageBackend": "s3", "isResumable": True,
        "metadata": {"vm": "i-1", "deep": [1, {"x": None}]}}
BUILDSTATE_OPS = {
    "register": REGISTER,
    "events": "query($f: EventFilter) { __typename }",
    "create_build": "mutation($i: CreateBuildInput!) { createBuild(input: $i) { __typename } }",
}
BUILDSTATE_INPUTS: list[dict[str, Any]] = [
    {"b": "x", "i": GOOD}, {"b": 5, "i": GOOD}, {"b": None, "i": GOOD}, {"i": GOOD},
    {"b": "x", "i": {**GOOD, "sizeBytes": 2 ** 70}}, {"b": "x", "i": {**GOOD, "sizeBytes": "12"}},
    {"b": "x", "i": {**GOOD, "sizeBytes": 1.5}}, {"b": "x", "i": {**GOOD, "stateCode": None}},
    {"b": "x", "i": {**GOOD, "expiresAt": "2026-01-01T00:00:00Z"}},
    {"b": "x", "i": {**GOOD, "expiresAt": "yesterday"}}, {"b": "x", "i": {**GOOD, "nope": 1}},
    {"b": "x", "i": {k: v for k, v in GOOD.items() if k != "artifactName"}},
    {"b": "x", "i": {**GOOD, "metadata": "text"}}, {"b": "x", "i": {**GOOD, "metadata": None}},
    {"b": "x", "i": {**GOOD, "isFinal": "yes"}}, {"b": "x", "i": [GOOD]}, {"b": "x", "i": "s"},
    {"f": {"buildId": "x", "since": "2026-01-01T00:00:00+00:00"}}, {"f": {"since": 5}},
    {"f": {"action": 5}}, {"f": None}, {},
    {"i": {"projectId": "p", "buildNumber": 3, "metadata": {"a": 1}}},
    {"i": {"projectId": "p", "buildNumber": "3"}}, {"i": {"projectId": "p"}},
]


def _errors(errors: list[GraphQLError]) -> list[tuple[Any, ...]]:
    return [(e.message, e.locations, e.path, type(e.original_error)) for e in errors]


def _typed(value: Any) -> Any:
    """A value with the type of every part, so that 1 and 1.0 or True differ."""
    if isinstance(value, dict):
        return (type(value), {k: _typed(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return (type(value), [_typed(v) for v in value])
    return (type(value), value)


def _sources(sources: dict[str, Any]) -> dict[str, Any]:
    """The sources with each signature's type by its name: graphql-core builds new wrapper
    types (non-null, list) from the AST for every request, equal in all but identity."""
    return {name: (source.signature.name, str(source.signature.type), source.signature.default,
                   source.signature.default_value, _typed(source.value))
            for name, source in sources.items()}


def _compare_coercion(graphql_schema: GraphQLSchema, text: str, inputs: dict[str, Any],
                      operation_name: str | None = None) -> bool:
    document = parse(text)
    operation = next(d for d in document.definitions
                     if operation_name is None or d.name.value == operation_name)
    general = get_variable_values(graphql_schema, operation.variable_definitions, inputs,
                                  max_errors=50)
    prepared = prepare(graphql_schema, document, operation_name)
    if prepared is None:
        return False
    if isinstance(general, list):
        with pytest.raises(NotCoerced):
            prepared.coerce(copy.deepcopy(inputs))
        return True
    compiled = prepared.coerce(copy.deepcopy(inputs))
    assert _typed(compiled.coerced) == _typed(general.coerced)
    assert _sources(compiled.sources) == _sources(general.sources)
    return True


def _fresh(inputs: Any) -> Any:
    """A copy for each path (a coercion must not depend on the other's work); a factory for
    values too deep for deepcopy."""
    return inputs() if callable(inputs) else copy.deepcopy(inputs)


def _compare_build(graphql_schema: GraphQLSchema, text: str, inputs: Any,
                   operation_name: str | None = None) -> None:
    document = parse(text, experimental_fragment_arguments="fragment F(" in text)
    kwargs = {"middleware": MiddlewareManager(), "operation_name": operation_name}
    general = StrawberryGraphQLCoreExecutionContext.build(graphql_schema, document, None, None,
                                        _fresh(inputs), **kwargs)
    ours = PlainListExecutor.build(graphql_schema, document, None, None,
                                   _fresh(inputs), **kwargs)
    if isinstance(general, list):
        assert isinstance(ours, list)
        assert _errors(ours) == _errors(general)
        return
    assert isinstance(ours, PlainListExecutor)
    assert ours.operation is general.operation
    assert ours.fragment_definitions == general.fragment_definitions
    assert ours.fragments == general.fragments
    assert _typed(ours.variable_values.coerced) == _typed(general.variable_values.coerced)
    assert _sources(ours.variable_values.sources) == _sources(general.variable_values.sources)


@pytest.mark.parametrize("name", sorted(SDL_OPS))
def test_sdl_operations_coerce_as_graphql_core(name: str) -> None:
    text = SDL_OPS[name]
    compiled = 0
    for operation_name in (("A", "B", None) if name == "two_ops" else (None,)):
        for inputs in SDL_INPUTS:
            if name == "two_ops" and operation_name is None:
                assert prepare(SDL, parse(text), None) is None  # graphql-core's error
            elif _compare_coercion(SDL, text, inputs, operation_name):
                compiled += 1
            _compare_build(SDL, text, inputs, operation_name)
    # Recursive and @oneOf inputs are graphql-core's alone; everything else is compiled.
    if name in ("tree", "oneof"):
        assert prepare(SDL, parse(text), None) is None
    elif name != "two_ops":
        assert compiled == len(SDL_INPUTS)


@pytest.mark.parametrize("name", sorted(BUILDSTATE_OPS))
def test_buildstate_operations_coerce_as_graphql_core(name: str) -> None:
    graphql_schema = buildstate_schema._schema
    for inputs in BUILDSTATE_INPUTS:
        assert _compare_coercion(graphql_schema, BUILDSTATE_OPS[name], inputs)
        _compare_build(graphql_schema, BUILDSTATE_OPS[name], inputs)


def test_out_names_out_types_and_field_defaults() -> None:
    text = "query($r: Renamed, $s: Renamed = {camelName: 2}) { a: g(r: $r) b: g(r: $s) }"
    for inputs in ({"r": {"camelName": 1}}, {"r": {"camelName": 1, "other": None}},
                   {"r": {"other": "o"}}, {"r": {"camelName": "1"}}, {}, {"s": None}):
        assert _compare_coercion(OUT_SCHEMA, text, inputs)
        _compare_build(OUT_SCHEMA, text, inputs)


def test_requests_graphql_core_refuses_take_its_path() -> None:
    # No operation, an unknown name, several unnamed, fragment arguments, an unknown type,
    # a variable of an output type, an invalid default, too many errors.
    for text, operation_name, inputs in [
        ("fragment F on Query { f }", None, {}),
        ("query A { f }", "B", {}),
        ("{ f } { f }", None, {}),
        ("query { ...F } fragment F($n: Int) on Query { f(n: $n) }", None, {}),
        ("query($n: Unknown) { f }", None, {"n": 1}),
        ("query($n: Query) { f }", None, {"n": 1}),
        ('query($n: Int = "x") { f(n: $n) }', None, {}),
        ("query(" + ", ".join(f"$v{i}: Int" for i in range(60)) + ") { f }", None,
         {f"v{i}": "bad" for i in range(60)}),
    ]:
        _compare_build(SDL, text, inputs, operation_name)
        _compare_build(SDL, text, None, operation_name)


def test_nesting_limits_match() -> None:
    def deep_tree() -> dict[str, Any]:
        deep: Any = {"value": 1}
        for _ in range(300):
            deep = {"children": [deep]}
        return {"t": deep}

    def deep_list() -> dict[str, Any]:
        nested: Any = 1
        for _ in range(300):
            nested = [nested]
        return {"l": nested}

    _compare_build(SDL, SDL_OPS["tree"], deep_tree)
    _compare_build(SDL, SDL_OPS["lists"], deep_list)
    # A deep JSON value is the custom scalar's: no nesting limit of graphql-core's.
    metadata: Any = "leaf"
    for _ in range(150):
        metadata = {"k": [metadata]}
    inputs = {"b": "x", "i": {**GOOD, "metadata": metadata}}
    assert _compare_coercion(buildstate_schema._schema, REGISTER, inputs)
    _compare_build(buildstate_schema._schema, REGISTER, inputs)


def test_prepared_operation_is_cached_per_document() -> None:
    document = parse(REGISTER)
    graphql_schema = buildstate_schema._schema
    first = prepare(graphql_schema, document, None)
    assert first is not None
    assert prepare(graphql_schema, document, None) is first
    assert prepare(graphql_schema, parse(REGISTER), None) is not first  # another document
    # A value is coerced anew for every request, never kept from an earlier one.
    a = first.coerce({"b": "1", "i": {**GOOD, "expiresAt": "2026-01-01T00:00:00Z"}})
    b = first.coerce({"b": "2", "i": GOOD})
    assert a.coerced["b"] == "1" and b.coerced["b"] == "2"
    assert isinstance(a.coerced["i"]["expiresAt"], datetime.datetime)
    assert "expiresAt" not in b.coerced["i"]
