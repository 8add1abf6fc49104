"""The plain-list shortcut (schema/execution.py) answers exactly what graphql-core's general path
answers: data, errors and their paths, for every shape it takes and every shape it declines."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import strawberry
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

import schema.execution as execution
from app.services import variables
from app.services.commands import SetVariable
from schema.execution import PlainListExecutor
from schema.scalars import JSON
from tests import factories
from tests.graphql.support import context_for
from schema.schema import schema as service_schema


@strawberry.enum
class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Deny(BasePermission):
    message = "no"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Item(Named):  # implements an interface: Strawberry gives it an is_type_of check
    id: strawberry.ID
    n: int | None
    flag: bool
    color: Color
    when: datetime | None
    data: JSON
    tags: list[str]
    secret: str = strawberry.field(permission_classes=[Deny], default="s")

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class Plain:  # no interface: no is_type_of
    key: str
    value: str | None


def _item(i: int, **kw: Any) -> Item:
    values: dict[str, Any] = dict(
        name=f"item-{i}", id=strawberry.ID(str(i)), n=i if i % 2 else None, flag=bool(i % 3),
        color=Color.RED if i % 2 else Color.BLUE,
        when=datetime(2026, 11, 28, 10, i, tzinfo=UTC) if i % 2 else None,
        data={"i": i, "nested": [1, {"k": "v"}]}, tags=["a", str(i)],
    )
    values.update(kw)
    return Item(**values)


class NotAnItem:
    name = "x"
    id = "1"
    n = 1


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [_item(i) for i in range(5)]

    @strawberry.field
    def maybe_items(self) -> list[Item | None]:
        return [_item(1), None, _item(2)]

    @strawberry.field
    def broken_items(self) -> list[Item]:  # null in a list of non-null items
        return [_item(1), None]  # type: ignore[list-item]

    @strawberry.field
    def big_items(self) -> list[Item]:  # an Int the scalar refuses
        return [_item(1), _item(3, n=2**40)]

    @strawberry.field
    def null_name_items(self) -> list[Item]:  # null in a non-null field
        return [_item(1, name=None)]

    @strawberry.field
    def wrong_items(self) -> list[Item]:  # is_type_of refuses
        return [NotAnItem()]  # type: ignore[list-item]

    @strawberry.field
    def named(self) -> list[Named]:  # abstract: always the general path
        return [_item(1), _item(2)]

    @strawberry.field
    def plains(self) -> list[Plain]:
        return [Plain(key=str(i), value=None if i == 2 else f"v{i}") for i in range(4)]

    @strawberry.field
    def matrix(self) -> list[list[Plain]]:
        return [[Plain(key="a", value="b")], []]


fast = strawberry.Schema(query=Query, execution_context_class=PlainListExecutor)
general = strawberry.Schema(query=Query)

ALL = "id name n flag color when data"

# (document, variables, whether the shortcut must complete at least one list)
CASES: list[tuple[str, dict[str, Any] | None, bool]] = [
    (f"{{ items {{ {ALL} }} }}", None, True),
    ("{ items { a: id b: name id __typename n n2: n } }", None, True),
    ("fragment F on Item { id flag } { items { ...F ... on Item { color } name } }", None, True),
    ("query($s: Boolean!) { items { id name @skip(if: $s) n @include(if: $s) } }", {"s": True}, True),
    ("query($s: Boolean!) { items { id name @skip(if: $s) n @include(if: $s) } }", {"s": False}, True),
    ("{ maybeItems { id when } }", None, True),
    ("{ plains { key value } }", None, True),
    ("{ matrix { key value } }", None, True),
    # declined: a resolver, a list of leaves, a permission (an extension), an abstract type
    ("{ items { id shout } }", None, False),
    ("{ items { id tags } }", None, False),
    ("{ items { id secret } }", None, False),
    ("{ named { name ... on Item { id } } }", None, False),
    # errors: the shortcut gives up, the general path reports them at their paths
    ("{ brokenItems { id } }", None, False),
    ("{ bigItems { id n } }", None, False),
    ("{ nullNameItems { id name } }", None, False),
    ("{ wrongItems { id } }", None, False),
]


def _answer(result: Any) -> tuple[Any, Any]:
    errors = [(e.message, e.path) for e in result.errors] if result.errors else None
    return result.data, errors


@pytest.mark.parametrize(("document", "variables", "shortcut"), CASES)
async def test_same_answer_as_the_general_path(
    document: str, variables: dict[str, Any] | None, shortcut: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    completed: list[int] = []
    real = execution._complete_plain

    def spy(plan: Any, items: Any, *args: Any) -> Any:
        answer = real(plan, items, *args)  # raises when it gives up: not counted
        completed.append(len(items))
        return answer

    monkeypatch.setattr(execution, "_complete_plain", spy)
    expected = _answer(await general.execute(document, variable_values=variables))
    got = _answer(await fast.execute(document, variable_values=variables))
    assert got == expected
    assert bool(completed) is shortcut, completed


async def test_the_resume_context_is_completed_by_the_shortcut_with_the_same_answer(
    database, writer, admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, failed = await factories.seed_failed_build(writer, configure=True)
    await variables.set_variable(
        actor=writer, build_id=str(failed.id),
        command=SetVariable(variable_key="db_password", variable_value="hunter2", is_sensitive=True),
    )
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from loadgen import GQL_READ  # the benchmark's document: every field of the context

    async def run() -> tuple[Any, Any]:
        result = await service_schema.execute(
            GQL_READ, variable_values={"id": str(failed.id)}, context_value=context_for(admin)
        )
        return _answer(result)

    completed: list[int] = []
    real = execution._complete_plain

    def spy(plan: Any, items: Any, *args: Any) -> Any:
        answer = real(plan, items, *args)
        completed.append(len(items))
        return answer

    monkeypatch.setattr(execution, "_complete_plain", spy)
    got = await run()
    assert completed == [1, 2]  # the artifacts and the variables
    monkeypatch.setattr(
        PlainListExecutor, "complete_list_value",
        StrawberryGraphQLCoreExecutionContext.complete_list_value,
    )
    assert got == await run()
    data, errors = got
    assert errors is None
    context = data["build"]["resumeContext"]
    assert context["artifacts"][0]["metadata"] == {"vm_id": "i-abc123", "snapshot_id": "snap-xyz789"}
    assert {v["key"]: v["value"] for v in context["variables"]}["db_password"] == "******"


async def test_an_answered_operation_leaves_no_reference_cycle(database, writer, reader) -> None:
    """graphql-core's executor refers to itself; PlainListExecutor breaks that cycle once the
    answer is built, so an operation's objects are freed by reference counting, not by the
    cyclic collector's pauses (which set the GraphQL read's p99 under load)."""
    import gc

    _, failed = await factories.seed_failed_build(writer, configure=True)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from loadgen import GQL_READ

    async def run() -> None:
        result = await service_schema.execute(
            GQL_READ, variable_values={"id": str(failed.id)}, context_value=context_for(reader)
        )
        assert result.errors is None

    await run()  # caches warm
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await run()
        gc.collect()
        left = [type(o).__qualname__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert "PlainListExecutor" not in left
    assert "Context" not in left and "ArtifactRecord" not in left, sorted(set(left))[:20]


async def test_resume_context_artifacts_answer_every_artifact_field(database, writer, reader) -> None:
    """The context's artifacts are the service's records (schema/types/context.py): every field
    of `Artifact` answers as it does for the build's own artifacts, `build` included."""
    _, failed = await factories.seed_failed_build(writer, configure=True)
    every = (
        "id stateCode artifactName artifactType artifactPath storageBackend storageRegion "
        "storageBucket storageKey sizeBytes checksum checksumAlgorithm isResumable isFinal "
        "expiresAt metadata version createdAt updatedAt deletedAt build { id currentState }"
    )
    doc = (f"query($id: ID!) {{ build(id: $id) {{ artifacts {{ {every} }} "
           f"resumeContext {{ artifacts {{ {every} }} }} }} }}")
    result = await service_schema.execute(
        doc, variable_values={"id": str(failed.id)}, context_value=context_for(reader)
    )
    assert result.errors is None, result.errors
    build = result.data["build"]
    assert build["resumeContext"]["artifacts"] == build["artifacts"]
    assert build["artifacts"][0]["build"] == {"id": str(failed.id), "currentState": 30}
