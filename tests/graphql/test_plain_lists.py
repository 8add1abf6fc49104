"""The plain-list shortcut (schema/execution.py) answers exactly what graphql-core's general path
answers: data, errors and their paths, for every shape it takes and every shape it declines."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
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
from schema.scalars import JSON, SCALAR_MAP, BigInt
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


@strawberry.type
class Kinds:  # a field of every scalar kind, odd Python and GraphQL names
    id: strawberry.ID
    uid: uuid.UUID | None
    big: BigInt | None
    day: date | None
    at: time | None
    when: datetime | None
    amount: Decimal | None
    ratio: float | None
    data: JSON | None
    text: str | None
    n: int | None
    flag: bool | None
    color: Color | None
    from_: str | None = strawberry.field(name="from")
    class_: int | None = strawberry.field(name="class")
    ok: bool = True


class Zone(tzinfo):
    def utcoffset(self, dt: Any) -> timedelta:
        raise RuntimeError("no offset")


class Later(datetime):
    pass


class Text(str):
    pass


class Pending:  # an awaitable attribute: the general path awaits it
    def __await__(self) -> Any:
        if False:
            yield
        return "late"


# The values of one field, by field: the first ones in their output form (the inline checks),
# then ones only the coercion or the general rules can answer.
KIND_VALUES: dict[str, list[Any]] = {
    "id": ["a", uuid.UUID(int=2**128 - 1), uuid.UUID(int=5), 7, Text("t"), 1.0],
    "uid": [uuid.UUID("12345678-1234-5678-1234-567812345678"), None, "not-a-uuid-but-a-str"],
    "big": [2**40, -(2**63), None, True, "12"],
    "day": [date(2026, 11, 28), None, datetime(2026, 11, 28, 1, 2, tzinfo=UTC)],
    "at": [time(1, 2, 3, 4), None],
    "when": [datetime(2026, 11, 28, 1, 2, 3, 456789, tzinfo=UTC), datetime(2026, 1, 1), None,
             date(2026, 1, 2), Later(2026, 1, 2, 3)],
    "amount": [Decimal("1.50"), None, 3],
    "ratio": [1.5, 2, None],
    "data": [{"k": [1, {"x": None}]}, [1, 2], "s", 3, None, Decimal("2.5"), Text("t")],
    "text": ["s", None, Text("sub"), 5, 2.5, True, Decimal("1.0")],
    "n": [2**31 - 1, -(2**31), None, True, 3.0, "12"],
    "flag": [True, None, 1, 0.0],
    "color": [Color.RED, None],
    "from_": ["f", None],
    "class_": [1, None],
}


def _kinds(i: int, **kw: Any) -> Kinds:
    values = {name: options[i % len(options)] for name, options in KIND_VALUES.items()}
    values.update(kw)
    return Kinds(**values)


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


    @strawberry.field
    def kinds(self) -> list[Kinds]:
        return [_kinds(i) for i in range(8)]

    @strawberry.field
    def too_big(self) -> list[Kinds | None]:  # the Int's bounds, one past them
        return [_kinds(0, n=2**31 - 1), _kinds(1, n=-(2**31)), _kinds(2, n=2**31)]

    @strawberry.field
    def bad_zone(self) -> list[Kinds]:  # isoformat raises
        return [_kinds(0), _kinds(1, when=datetime(2026, 1, 1, tzinfo=Zone()))]

    @strawberry.field
    def bad_uuid(self) -> list[Kinds]:  # str() of a UUID without its int raises
        return [_kinds(0), _kinds(1, id=object.__new__(uuid.UUID))]

    @strawberry.field
    def builtin_id(self) -> list[Kinds]:  # the ID scalar refuses a builtin it cannot write
        return [_kinds(0), _kinds(1, id=b"raw")]

    @strawberry.field
    def pending(self) -> list[Kinds]:  # an awaitable value
        return [_kinds(0), _kinds(1, text=Pending())]

    @strawberry.field
    def failed_value(self) -> list[Kinds]:  # an exception as a value: an error at its path
        return [_kinds(0), _kinds(1, amount=ValueError("no amount"))]

    @strawberry.field
    def null_ok(self) -> list[Kinds]:  # null in a non-null Boolean
        return [_kinds(0), _kinds(1, ok=None)]

    @strawberry.field
    def wrong_kinds(self) -> list[Kinds]:  # an item of another type (no is_type_of: read as is)
        return [_kinds(0), Plain(key="k", value="v")]  # type: ignore[list-item]


fast = strawberry.Schema(
    query=Query, execution_context_class=PlainListExecutor,
    config=strawberry.schema.config.StrawberryConfig(scalar_map=SCALAR_MAP),
)
general = strawberry.Schema(
    query=Query, config=strawberry.schema.config.StrawberryConfig(scalar_map=SCALAR_MAP)
)

ALL = "id name n flag color when data"
KINDS = "id uid big day at when amount ratio data text n flag color from class ok"

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
    # every scalar kind, with values in and out of their output form
    (f"{{ kinds {{ {KINDS} }} }}", None, True),
    (f"{{ kinds {{ __typename {KINDS} __typename }} }}", None, True),
    # aliases that are Python keywords, builtins or the generated code's own names
    ("{ kinds { class: id None: n def: when True: flag lambda: data _: __typename "
     "item: text v0: uid C0: big append: amount from: class class2: from } }", None, True),
    ("{ kinds { id: n n: id __typename: id } }", None, True),
    ("{ kinds { id @skip(if: true) } }", None, True),  # no field left
    ("{ tooBig { n } }", None, False),
    ("{ tooBig { n @skip(if: true) } }", None, True),
    ("{ badZone { id when } }", None, False),
    ("{ badZone { id } }", None, True),
    ("{ badUuid { id } }", None, False),
    ("{ builtinId { id } }", None, False),
    ("{ pending { id text } }", None, False),
    ("{ failedValue { amount } }", None, False),
    ("{ nullOk { id ok } }", None, False),
    ("{ wrongKinds { id } }", None, False),  # the read raises: an error at the field's path
    ("{ wrongKinds { __typename } }", None, True),
]


def _answer(result: Any) -> tuple[Any, Any]:
    """Data as JSON (key order, 1 vs true and 1 vs 1.0 count) and errors with their paths."""
    errors = [(e.message, e.path) for e in result.errors] if result.errors else None
    return json.dumps(result.data, default=repr), errors


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

    trees: list[str] = []
    real_tree = execution._complete_tree

    def tree_spy(tree: Any, value: Any, info: Any, *args: Any) -> Any:
        answer = real_tree(tree, value, info, *args)
        trees.append(info.field_name)
        return answer

    monkeypatch.setattr(execution, "_complete_plain", spy)
    monkeypatch.setattr(execution, "_complete_tree", tree_spy)
    got = await run()
    # The whole context (its artifacts and variables included) is one plain subtree.
    assert (completed, trees) == ([], ["resumeContext"])
    for method in ("complete_list_value", "complete_object_value"):
        monkeypatch.setattr(
            PlainListExecutor, method, getattr(StrawberryGraphQLCoreExecutionContext, method)
        )
    assert got == await run()
    text, errors = got
    assert errors is None
    context = json.loads(text)["build"]["resumeContext"]
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


async def test_a_plan_is_generated_once_and_no_operation_keeps_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The generated functions are cached by plan shape across operations (a bounded cache);
    the plans themselves are per operation and go with it."""
    doc = f"{{ kinds {{ {KINDS} }} plains {{ key value }} maybeItems {{ id when }} }}"
    assert (await fast.execute(doc)).errors is None
    before = execution._generate.cache_info()
    executors: list[PlainListExecutor] = []
    real_init = PlainListExecutor.__init__

    def init(self: PlainListExecutor, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        executors.append(self)

    monkeypatch.setattr(PlainListExecutor, "__init__", init)
    for _ in range(3):
        assert (await fast.execute(doc)).errors is None
    after = execution._generate.cache_info()
    assert (after.misses, after.currsize) == (before.misses, before.currsize)
    assert after.hits == before.hits + 9  # three lists, three operations
    assert after.maxsize is not None
    assert len(executors) == 3 and all(not e._plain_plans for e in executors)
