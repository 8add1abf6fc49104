"""PlainListExecutor.complete_abstract_value finds a union's member in a map built once
(schema/execution.py `_union_members`) where Strawberry's `_resolve_union_type` walks the union
per value. Each query below runs on two schemas that differ only in their executor class
(ours, Strawberry's own) and the answers must be the same: data, and errors with their
message, path and locations. Values: every member, a subclass of one, a cast value, a generic
member, a plain object answered by `is_type_of`, a type outside the union, a plain object no
member takes, null, lists of them; with fragments on the members, an interface and
`__typename`."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import pytest
import strawberry
from graphql import GraphQLUnionType

from schema.execution import PlainListExecutor, _union_members

T = TypeVar("T")


@strawberry.interface
class Problem:
    message: str


@strawberry.type
class Done:
    id: strawberry.ID
    size: int


@strawberry.type
class Missing(Problem):
    what: str


@strawberry.type
class Refused(Problem):
    code: str


@strawberry.type
class Elsewhere:
    id: strawberry.ID


@strawberry.type
class Box(Generic[T]):
    item: T


class DoneLater(Done):
    """A subclass: it inherits Done's Strawberry definition."""


class Plain:
    """No Strawberry definition: Strawberry asks the members' `is_type_of`."""

    id = "p"
    size = 3


Outcome = Annotated[Done | Missing | Refused | Box[int], strawberry.union("Outcome")]

VALUES = {
    "done": Done(id=strawberry.ID("1"), size=5),
    "missing": Missing(message="gone", what="build"),
    "refused": Refused(message="no", code="DENIED"),
    "box": Box(item=3),
    "later": DoneLater(id=strawberry.ID("2"), size=6),
    "cast": strawberry.cast(Refused, Missing(message="cast", what="x")),
    "elsewhere": Elsewhere(id=strawberry.ID("3")),
    "plain": Plain(),
    "none": None,
}


@strawberry.type
class Query:
    @strawberry.field
    def one(self, name: str) -> Outcome | None:
        return VALUES[name]  # type: ignore[return-value]

    @strawberry.field
    def many(self, names: list[str]) -> list[Outcome | None]:
        return [VALUES[n] for n in names]  # type: ignore[misc]

    @strawberry.field
    async def later(self, name: str) -> Outcome:
        return VALUES[name]  # type: ignore[return-value]


OURS = strawberry.Schema(query=Query, types=[Elsewhere],
                         execution_context_class=PlainListExecutor)
THEIRS = strawberry.Schema(query=Query, types=[Elsewhere])

SELECTION = ("{ __typename ... on Done { id size } ... on Problem { message } "
             "... on Missing { what } ... on Refused { code } ... on IntBox { item } }")


def _answer(result: object) -> tuple[object, object]:
    errors = [(e.message, e.path, e.locations, type(e.original_error))
              for e in result.errors or ()]  # type: ignore[attr-defined]
    return result.data, errors  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(VALUES))
async def test_union_values_complete_as_strawberry(name: str) -> None:
    for query in (
        f'{{ one(name: "{name}") {SELECTION} }}',
        f'{{ later(name: "{name}") {SELECTION} }}',
        f'{{ many(names: ["{name}", "done", "none", "{name}"]) {SELECTION} }}',
        f'{{ a: one(name: "{name}") {{ __typename }} b: one(name: "{name}") {SELECTION} }}',
    ):
        ours = await OURS.execute(query)
        theirs = await THEIRS.execute(query)
        assert _answer(ours) == _answer(theirs), query


def test_the_map_takes_plain_members_only() -> None:
    union = OURS._schema.get_type("Outcome")
    assert isinstance(union, GraphQLUnionType)
    members = _union_members(union)
    assert members is not None
    assert sorted(m.name for m in members.values()) == ["Done", "Missing", "Refused"]
    assert _union_members(union) is members  # built once


async def test_the_map_answers_without_strawberrys_resolver(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    union = OURS._schema.get_type("Outcome")
    calls: list[object] = []
    resolve = union.resolve_type

    def counting(value: object, info: object, type_: object) -> object:
        calls.append(value)
        return resolve(value, info, type_)

    counting.__qualname__ = resolve.__qualname__  # still Strawberry's, to the map
    monkeypatch.setattr(union, "resolve_type", counting)
    ours = await OURS.execute(f'{{ many(names: ["done", "later", "missing", "box"]) {SELECTION} }}')
    assert not ours.errors
    assert calls == [VALUES["box"]]  # the generic member: Strawberry's
