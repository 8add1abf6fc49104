"""Mutation fields resolved directly (schema/mutations/direct.py) answer as Strawberry's own
resolver does: the same arguments reach the resolver, the same permission errors, the same
answers. Each test runs both resolvers (Strawberry's is kept as `.strawberry_resolver`) on the
same calls and compares, so a Strawberry upgrade that changes its wrapper fails here.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from enum import Enum
from contextlib import contextmanager
from typing import Any

import pytest
import strawberry
from graphql import GraphQLNonNull
from strawberry.permission import BasePermission
from strawberry.types import Info

from app.services.actor import Actor
from schema.mutations import direct
from schema.schema import schema
from tests import factories
from tests.graphql.support import context_for
from tests.graphql.test_mutation_fast_paths import MODES, _plain, _sample

MUTATION = schema._schema.mutation_type
assert MUTATION is not None
ACTORS = {
    "writer": Actor(name="w", scopes=frozenset({"read", "write"})),
    "reader": Actor(name="r", scopes=frozenset({"read"})),
    "admin": Actor(name="a", scopes=frozenset({"read", "write", "admin"})),
    "anonymous": None,
}


@contextmanager
def strawberrys(the_schema: Any = schema) -> Iterator[None]:
    """Every mutation field resolved by Strawberry's own resolver, for the duration."""
    fields = list(the_schema._schema.mutation_type.fields.values())
    ours = [f.resolve for f in fields]
    for f in fields:
        f.resolve = f.resolve.strawberry_resolver
    try:
        yield
    finally:
        for f, resolve in zip(fields, ours, strict=True):
            f.resolve = resolve


def answer(result: Any) -> dict[str, Any]:
    """What a client would see."""
    return {"data": result.data,
            "errors": [e.formatted for e in result.errors] if result.errors else None}


async def both(doc: str, actor: Actor | None, variables: dict[str, Any] | None = None,
               the_schema: Any = schema, context: Any = None) -> tuple[dict, dict]:
    """(Strawberry's answer, ours) to the same call."""
    def run() -> Any:
        return the_schema.execute(doc, variable_values=variables,
                                  context_value=context or context_for(actor))
    with strawberrys(the_schema):
        theirs = answer(await run())
    return theirs, answer(await run())


def test_every_mutation_field_is_resolved_directly() -> None:
    # Strawberry's resolver is kept for the comparisons; a field this module stops covering
    # (a new extension, a Strawberry change `_plan` refuses) shows up here.
    assert direct.install(schema) == []  # installed at import; a second call changes nothing
    for name, field in MUTATION.fields.items():
        assert hasattr(field.resolve, "strawberry_resolver"), name
    # Queries keep Strawberry's resolvers.
    assert not any(hasattr(f.resolve, "strawberry_resolver")
                   for f in schema._schema.query_type.fields.values())


def _document(name: str) -> str:
    field = MUTATION.fields[name]
    params = ", ".join(f"${a}: {t.type}" for a, t in field.args.items())
    args = ", ".join(f"{a}: ${a}" for a in field.args)
    return (f"mutation({params}) {{ {name}({args}) {{ __typename }} }}" if params
            else f"mutation {{ {name} {{ __typename }} }}")


def _variables(name: str, mode: str) -> dict[str, Any]:
    out = {}
    for arg, definition in MUTATION.fields[name].args.items():
        required = isinstance(definition.type, GraphQLNonNull)
        if mode == "required" and not required:
            continue
        out[arg] = None if (mode == "nulls" and not required) else _sample(definition.type, mode)
    return out


@pytest.mark.parametrize("actor", sorted(ACTORS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(MUTATION.fields))
async def test_the_resolver_gets_what_strawberry_gives_it(monkeypatch, name: str, mode: str,
                                                          actor: str) -> None:
    """Every mutation, with all its arguments, only the required ones, and explicit nulls,
    by every kind of caller: the same Python arguments (inputs built, UNSET for omitted
    fields, None for nulls, enums, scalars), the same Info, the same permission errors."""
    field = MUTATION.fields[name].extensions["strawberry-definition"]
    calls: list[tuple[Any, Any]] = []

    async def recorder(**kwargs: Any) -> Any:
        info = kwargs.pop(field.base_resolver.info_parameter.name, None)
        calls.append((_plain(kwargs), info and (type(info), info._field, info._raw_info.path)))
        return None  # a null for a non-null union: the same error either way

    monkeypatch.setattr(field.base_resolver, "wrapped_func", recorder)
    ours = direct._resolver(field, direct._plan(field, schema.schema_converter),
                            schema.schema_converter)
    ours.strawberry_resolver = MUTATION.fields[name].resolve.strawberry_resolver
    monkeypatch.setattr(MUTATION.fields[name], "resolve", ours)
    theirs, mine = await both(_document(name), ACTORS[actor], _variables(name, mode))
    assert mine == theirs
    assert len(calls) in (0, 2)
    if calls:
        assert calls[0] == calls[1]
        assert calls[0][1][0] is Info
    else:  # refused before the resolver: a permission error, with its code
        assert theirs["errors"][0]["extensions"]["code"] in ("UNAUTHENTICATED", "FORBIDDEN")
    if actor == "admin" or (actor == "writer" and name not in _ADMIN_ONLY):
        assert calls, theirs


_ADMIN_ONLY = {n for n, f in MUTATION.fields.items()
               if any(p.scope == "admin" for e in f.extensions["strawberry-definition"].extensions
                      for p in e.permissions)}


# --- Permission classes that answer other than ours (False, not a bool, awaitable) -----------


class Denies(BasePermission):
    message = "denied here"
    error_extensions = {"code": "NOPE"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return kwargs.get("n") != 1


class NotABool(BasePermission):
    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> Any:
        return "yes" if kwargs.get("n") == 2 else True


class Later(BasePermission):
    """A plain function answering an awaitable (Strawberry awaits it)."""
    message = "later says no"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> Any:
        async def decide() -> bool:
            return kwargs.get("n") != 3
        return decide()


@strawberry.type
class _Query:
    ok: bool = True


class SeesArguments(BasePermission):
    """Refuses by what it is handed: the arguments, with or without the Info."""
    message = "sees arguments"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        SEEN.append(sorted(kwargs))
        return kwargs.get("n") != 4


def _guarded_schema() -> Any:
    @strawberry.type
    class Mutation:
        @strawberry.mutation(permission_classes=[Denies, NotABool, Later, SeesArguments])
        async def guarded(n: int, info: Info) -> int:  # type: ignore[misc]
            return n * 10

        @strawberry.mutation(permission_classes=[SeesArguments])
        async def named_otherwise(n: int, ctx: Info) -> int:  # type: ignore[misc]
            return n * 100

    small = strawberry.Schema(query=_Query, mutation=Mutation)
    assert direct.install(small) == ["guarded", "namedOtherwise"]
    return small


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
async def test_permission_answers_other_than_true(n: int) -> None:
    small = _guarded_schema()
    SEEN.clear()
    theirs, mine = await both("mutation($n: Int!) { guarded(n: $n) namedOtherwise(n: $n) }",
                              None, {"n": n}, the_schema=small, context={})
    assert mine == theirs
    assert SEEN[:len(SEEN) // 2] == SEEN[len(SEEN) // 2:]
    assert (theirs["errors"] is None) == (n == 0), theirs
    if n == 0:
        assert theirs["data"] == {"guarded": 0, "namedOtherwise": 0}
        assert SEEN == [["n"], ["ctx", "n"]] * 2


# --- registerArtifact end to end, on a real database -----------------------------------------

REGISTER = """mutation($id: ID!, $input: RegisterArtifactInput!, $key: String) {
  registerArtifact(buildId: $id, input: $input, idempotencyKey: $key) {
    __typename ... on Error { message code } ... on ValidationError { field }
    ... on ConflictError { existingId }
    ... on Artifact { id stateCode artifactName artifactType artifactPath storageBackend
      storageRegion storageBucket storageKey sizeBytes checksum checksumAlgorithm isResumable
      isFinal expiresAt metadata version createdAt updatedAt deletedAt build { id } }
  }
}"""
REQUIRED = {"stateCode": 20, "artifactType": "vm_snapshot", "artifactPath": "s3://b/a.vmdk"}
FULL = {**REQUIRED, "storageBackend": "s3", "storageRegion": "eu-west-1", "storageBucket": "b",
        "storageKey": "k/a", "sizeBytes": "8589934592", "checksum": "ab12",
        "checksumAlgorithm": "md5", "isResumable": False, "isFinal": True,
        "expiresAt": "2031-01-02T03:04:05+00:00", "metadata": {"a": [1, None, {"b": "c"}]}}
NULLS = {**REQUIRED, **{k: None for k in FULL if k not in REQUIRED
                        and k not in ("checksumAlgorithm", "isResumable", "isFinal", "metadata")}}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")


def _masked(value: dict[str, Any]) -> Any:
    """Ids and the moments of writes differ between two writes; the rest must not."""
    text = json.dumps(value, sort_keys=True).replace("2031-01-02T03:04:05+00:00", "<given>")
    return json.loads(MOMENT.sub("<moment>", UUID.sub("<uuid>", text)))


async def _both_writes(actor: Actor | None, builds: tuple[str, str], given: dict[str, Any],
                       key: str | None = None, keys: tuple[str, str] | None = None) -> Any:
    """Strawberry's resolver on one build, ours on the other, the same input otherwise."""
    out = []
    for index, build in enumerate(builds):
        variables = {"id": build, "input": given,
                     "key": keys[index] if keys else key}
        if index == 0:
            with strawberrys():
                out.append(answer(await schema.execute(
                    REGISTER, variable_values=variables, context_value=context_for(actor))))
        else:
            out.append(answer(await schema.execute(
                REGISTER, variable_values=variables, context_value=context_for(actor))))
    return out


async def test_register_artifact_answers_as_strawberrys_resolver(database, writer, reader) -> None:
    project = await factories.project(writer)
    builds = tuple([str((await factories.build(writer, project)).id) for _ in range(2)])
    cases: list[tuple[Actor | None, dict[str, Any]]] = [
        (writer, {**FULL, "artifactName": "full"}),
        (writer, {**REQUIRED, "artifactName": "required"}),
        (writer, {**NULLS, "artifactName": "nulls"}),
        (writer, {**REQUIRED, "artifactName": "full"}),  # a conflict with the first
        (writer, {**REQUIRED, "artifactName": "  padded  ", "sizeBytes": 12}),
        (writer, {**REQUIRED, "artifactName": "x" * 256}),
        (writer, {**REQUIRED, "artifactName": "n", "stateCode": -1}),
        (writer, {**REQUIRED, "artifactName": "n", "isFinal": None}),
        (writer, {**REQUIRED, "artifactName": "n", "metadata": None}),
        (writer, {**REQUIRED, "artifactName": "n", "metadata": {"n": 2**64}}),
        (writer, {**REQUIRED, "artifactName": "n", "sizeBytes": "-1"}),
        (writer, {**REQUIRED, "artifactName": "n", "expiresAt": "2031-01-02T03:04:05"}),
        (writer, {**REQUIRED, "artifactName": "nul\x00"}),
        (writer, {**REQUIRED, "artifactName": "n", "bogus": 1}),
        (writer, {**REQUIRED, "artifactName": "n", "sizeBytes": True}),
        (reader, {**REQUIRED, "artifactName": "n"}),
        (None, {**REQUIRED, "artifactName": "n"}),
    ]
    for actor, given in cases:
        theirs, mine = await _both_writes(actor, builds, given)
        assert _masked(mine) == _masked(theirs), given
    # Two mutations in one document run one after the other; a refusal stops the rest.
    twice = REGISTER.replace("registerArtifact(", "a: registerArtifact(").replace(
        "\n}", " b: registerArtifact(buildId: $id, input: $second) { __typename } }").replace(
        "$key: String)", "$key: String, $second: RegisterArtifactInput!)")
    for index, actor in enumerate((writer, reader, None)):
        answers = []
        for strawberry_first in (True, False):
            variables = {"id": builds[strawberry_first], "key": None,
                         "input": {**REQUIRED, "artifactName": f"one-{index}"},
                         "second": {**REQUIRED, "artifactName": f"two-{index}"}}
            run = schema.execute(twice, variable_values=variables,
                                 context_value=context_for(actor))
            if strawberry_first:
                with strawberrys():
                    answers.append(answer(await run))
            else:
                answers.append(answer(await run))
        assert _masked(answers[1]) == _masked(answers[0]), actor
        assert (answers[0]["data"] is not None) == (actor is writer), answers[0]
    # A build that does not exist, an id that is not one: the same typed errors.
    for missing in (str(uuid.uuid4()), "not-a-uuid"):
        theirs, mine = await _both_writes(writer, (missing, missing),
                                          {**REQUIRED, "artifactName": "m"})
        assert mine == theirs
        assert mine["data"]["registerArtifact"]["__typename"] == "NotFoundError"


async def test_register_artifact_idempotency_as_strawberrys_resolver(database, writer) -> None:
    project = await factories.project(writer)
    builds = tuple([str((await factories.build(writer, project)).id) for _ in range(2)])
    given = {**FULL, "artifactName": "once"}
    keys = (f"s-{uuid.uuid4()}", f"d-{uuid.uuid4()}")
    first = await _both_writes(writer, builds, given, keys=keys)
    replay = await _both_writes(writer, builds, given, keys=keys)  # the same answer again
    reused = await _both_writes(writer, builds, {**given, "artifactName": "other"}, keys=keys)
    bad = await _both_writes(writer, builds, given, key="bad key\x01")
    for theirs, mine in (first, replay, reused, bad):
        assert _masked(mine) == _masked(theirs)
    assert first[1]["data"]["registerArtifact"]["__typename"] == "Artifact"
    assert replay[1] == first[1]
    assert reused[1]["data"]["registerArtifact"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert bad[1]["data"]["registerArtifact"]["field"] == "idempotencyKey"



# --- Argument shapes our mutations do not use yet: lists of inputs, GlobalIDs, enums, hooks ---

SEEN: list[Any] = []


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class Item:
    label: str
    colour: Colour = Colour.RED
    size: int | None = strawberry.UNSET


@strawberry.input
class Hooked:
    name: str


def _hook(cls: type, value: Any, context: Any) -> Any:
    # What the hook is handed: its location and the Info (what nested conversions rely on).
    SEEN.append((context.path, type(context.info), context.info._raw_info.path.as_list()))
    return cls(name=value["name"])


Hooked.__strawberry_definition__.from_input = _hook


def _shaped_schema() -> Any:
    @strawberry.type
    class Mutation:
        @strawberry.mutation
        async def shaped(info: Info, items: list[Item] | None = strawberry.UNSET,
                         node: strawberry.relay.GlobalID | None = None,
                         colour: Colour = Colour.BLUE, hooked: Hooked | None = None,
                         hooks: list[Hooked] | None = None) -> str:  # type: ignore[misc]
            return repr((items, node, colour, hooked, hooks, info.path.as_list()))

    small = strawberry.Schema(query=_Query, mutation=Mutation)
    assert direct.install(small) == ["shaped"]
    return small


SHAPED = """mutation($items: [Item!], $node: ID, $colour: Colour!, $hooked: Hooked,
  $hooks: [Hooked!]) {
  shaped(items: $items, node: $node, colour: $colour, hooked: $hooked, hooks: $hooks) }"""


@pytest.mark.parametrize("variables", [
    {"colour": "RED"},
    {"colour": "BLUE", "items": [{"label": "a"}, {"label": "b", "colour": "BLUE", "size": None}],
     "node": "SXRlbTox", "hooked": {"name": "h"}},
    {"colour": "BLUE", "hooks": [{"name": "h1"}, {"name": "h2"}]},
    {"colour": "RED", "items": None, "node": None, "hooked": None},
    {"colour": "RED", "node": "not a global id"},  # Strawberry's conversion error
])
async def test_other_argument_shapes_as_strawberry_converts_them(variables: dict) -> None:
    small = _shaped_schema()
    SEEN.clear()
    theirs, mine = await both(SHAPED, None, variables, the_schema=small, context={})
    assert mine == theirs
    assert SEEN[:len(SEEN) // 2] == SEEN[len(SEEN) // 2:]
    assert (theirs["errors"] is None) == (variables.get("node") != "not a global id"), theirs
    if "hooked" in variables and variables["hooked"]:
        assert SEEN == [(("hooked",), Info, ["shaped"])] * 2
    if "hooks" in variables:
        assert SEEN == [(("hooks", 0), Info, ["shaped"]), (("hooks", 1), Info, ["shaped"])] * 2
