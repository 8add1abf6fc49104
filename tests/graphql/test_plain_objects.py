"""The plain-subtree shortcut (schema/execution.py, `complete_object_value`) answers exactly what
graphql-core's general path answers: data, errors and their paths, for nested objects, lists of
leaves and of objects, nulls and non-null violations at every level, aliases, fragments,
@skip/@include and __typename; and it leaves alone what is not plain (a resolver, an argument,
an abstract type)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
import strawberry

import schema.execution as execution
from schema.execution import PlainListExecutor
from strawberry.extensions import ParserCache
from schema.scalars import JSON, SCALAR_MAP


@strawberry.enum
class Color(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Leaf(Named):  # implements an interface: Strawberry gives it an is_type_of check
    n: int | None
    tags: list[str]
    maybe_tags: list[str | None] | None
    when: datetime | None
    color: Color | None


@strawberry.type
class Mid:
    id: strawberry.ID
    leaf: Leaf | None
    must: Leaf
    leaves: list[Leaf]
    maybe_leaves: list[Leaf | None] | None
    grid: list[list[int]]
    named: Named | None = None  # abstract: the general path resolves its type

    @strawberry.field
    def computed(self) -> str:  # a resolver
        return self.id.upper()

    @strawberry.field
    def pick(self, i: int = 0) -> Leaf:  # arguments
        return self.leaves[i]


@strawberry.type
class Tagged:
    label: str

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:  # reads the resolve info of its field
        return isinstance(obj, cls) and info.field_name != "refused"


@strawberry.type
class Top:
    title: str
    data: JSON | None
    mid: Mid | None
    mids: list[Mid]
    tagged: Tagged | None = None
    refused: Tagged | None = None


class Pending:  # an awaitable value: the general path awaits it
    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        if False:
            yield
        return self.value


def leaf(i: int, **kw: Any) -> Leaf:
    values: dict[str, Any] = dict(
        name=f"leaf-{i}", n=i if i % 2 else None, tags=["a", str(i)],
        maybe_tags=None if i % 3 == 0 else ["x", None], color=Color.RED if i % 2 else None,
        when=datetime(2026, 11, 28, 10, i % 60, tzinfo=UTC) if i % 2 else None,
    )
    values.update(kw)
    return Leaf(**values)


def mid(i: int, **kw: Any) -> Mid:
    values: dict[str, Any] = dict(
        id=strawberry.ID(f"m{i}"), leaf=leaf(i) if i % 2 else None, must=leaf(i + 1),
        leaves=[leaf(i + k) for k in range(3)], maybe_leaves=[leaf(i), None],
        grid=[[1, 2], [], [i]], named=leaf(i + 7),
    )
    values.update(kw)
    return Mid(**values)


def top(**kw: Any) -> Top:
    values: dict[str, Any] = dict(
        title="top", data={"k": [1, {"x": None}]}, mid=mid(1), mids=[mid(2), mid(3)],
        tagged=Tagged(label="t"), refused=Tagged(label="r"),
    )
    values.update(kw)
    return Top(**values)


class MidError(Exception):  # an exception as a value, with every attribute a Mid has
    def __init__(self) -> None:
        super().__init__("no mid")
        self.__dict__.update(vars(mid(1)))


class NotALeaf:
    name = "impostor"
    n = 1
    tags: list[str] = []
    maybe_tags = None
    when = None
    color = None


def _with(path: str, value: Any) -> Top:
    """A top whose attribute at `path` (dotted; a number indexes a list) is `value`."""
    root = top()
    *parents, last = path.split(".")
    target: Any = root
    for part in parents:
        target = target[int(part)] if part.isdigit() else getattr(target, part)
    if last.isdigit():
        target[int(last)] = value
    else:
        setattr(target, last, value)
    return root


CASES: dict[str, Any] = {
    "ok": top,
    "null mid": lambda: _with("mid", None),
    "null must (non-null, two levels down)": lambda: _with("mid.must", None),
    "null must in a list item": lambda: _with("mids.1.must", None),
    "null leaf in a non-null list": lambda: _with("mid.leaves.1", None),
    "null tag in a non-null list": lambda: _with("mid.must.tags.1", None),
    "null title (the root's own field)": lambda: _with("title", None),
    "null list of tags": lambda: _with("mid.leaves.0.tags", None),
    "null grid row": lambda: _with("mid.grid.1", None),
    "null grid cell": lambda: _with("mid.grid.0.1", None),
    "an Int too big, deep": lambda: _with("mids.0.leaves.2.n", 2**40),
    "an Int too big in a grid": lambda: _with("mid.grid.2.0", 2**40),
    "is_type_of refuses": lambda: _with("mid.leaf", NotALeaf()),
    "is_type_of refuses in a list": lambda: _with("mid.leaves.0", NotALeaf()),
    "an exception as a value": lambda: _with("mid.leaf.when", ValueError("no time")),
    "an exception as an object": lambda: _with("mid.leaf", ValueError("no leaf")),
    "an exception with the object's attributes": lambda: _with("mid", MidError()),
    "an exception as a list": lambda: _with("mid.leaves", ValueError("no leaves")),
    "a str where a list is due": lambda: _with("mid.must.tags", "abc"),
    "a set where a list is due": lambda: _with("mid.must.tags", {"only"}),
    "a generator where a list is due": lambda: _with("mid.grid", ([k] for k in range(2))),
    "a tuple where a list is due": lambda: _with("mid.must.tags", ("t", "u")),
    "an awaitable leaf": lambda: _with("mid.must.n", Pending(5)),
    "an awaitable object": lambda: _with("mid.leaf", Pending(leaf(9))),
    "an awaitable list item": lambda: _with("mid.leaves.1", Pending(leaf(8))),
    "a missing attribute": lambda: _with("mid.must", object()),
    "a wrong enum value": lambda: _with("mid.leaf.color", "green"),
}


@strawberry.type
class Query:
    @strawberry.field
    def top(self, case: str = "ok") -> Top | None:
        return CASES[case]()

    @strawberry.field
    def tops(self, case: str = "ok") -> list[Top | None]:
        return [top(), CASES[case](), None]

    @strawberry.field
    def strict_top(self, case: str = "ok") -> Top:
        return CASES[case]()


@strawberry.type
class Node:
    value: int
    child: Node | None
    children: list[Node]


@strawberry.type
class DeepQuery:
    @strawberry.field
    def root(self) -> Node:
        node = Node(value=30, child=None, children=[])
        for d in range(29, -1, -1):
            node = Node(value=d, child=node, children=[node])
        return node


def _schema(fast: bool) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query, execution_context_class=PlainListExecutor if fast else None,
        config=strawberry.schema.config.StrawberryConfig(scalar_map=SCALAR_MAP),
    )


fast, general = _schema(True), _schema(False)

EVERYTHING = (
    "title data mid { id leaf { name n tags maybeTags when color __typename } "
    "must { name n tags } leaves { name n tags when } maybeLeaves { name color } grid } "
    "mids { id must { name maybeTags } leaves { n } }"
)

# (document, variables, the fields whose values the shortcut completes on the "ok" case)
DOCUMENTS: list[tuple[str, dict[str, Any] | None, set[str]]] = [
    (f"{{ top {{ {EVERYTHING} }} }}", None, {"top"}),
    (f"{{ strictTop {{ {EVERYTHING} }} }}", None, {"strictTop"}),
    (f"{{ tops {{ {EVERYTHING} }} }}", None, {"tops"}),
    ("{ top { t: title title __typename m: mid { __typename id i: id leaf { n: name name: n } "
     "l: leaves { __typename } } mid { grid } } }", None, {"top"}),
    ("fragment L on Leaf { name tags } fragment M on Mid { id must { ...L } } "
     "{ top { ...on Top { mid { ...M leaves { ...L ... on Leaf { n } ... on Named { name } } } } "
     "mids { ...M } } }", None, {"top"}),
    ("query($s: Boolean!) { top { title @skip(if: $s) mid { id @include(if: $s) "
     "must { name tags @skip(if: $s) } leaves @include(if: $s) { n } } } }", {"s": True}, {"top"}),
    ("query($s: Boolean!) { top { title @skip(if: $s) mid { id @include(if: $s) "
     "must { name tags @skip(if: $s) } leaves @include(if: $s) { n } } } }", {"s": False}, {"top"}),
    ("{ top { mid { id @skip(if: true) } } }", None, {"top"}),  # an object with no field left
    # not plain: the general path, and the shortcut below it where the subtree is plain
    ("{ top { title mid { id computed must { name } } } }", None, {"must"}),
    ("{ top { title mid { id pick(i: 1) { name } leaf { name } } } }", None, {"pick", "leaf"}),
    # (the abstract field's value, once its type is resolved, is a plain Leaf; `leaves`, a list
    # of flat objects, is the list shortcut's)
    ("{ top { title mid { id named { name } leaves { name } } } }", None, {"named"}),
    ("{ top { mids { named { ... on Leaf { n } } } } }", None, {"named"}),
]


def _answer(result: Any) -> tuple[Any, Any]:
    """Data as JSON (key order, 1 vs true and 1 vs 1.0 count) and errors with their paths."""
    errors = [(e.message, e.path) for e in result.errors] if result.errors else None
    return json.dumps(result.data, default=repr), errors


@pytest.fixture
def completed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The fields whose values the subtree shortcut completed (not those it gave up)."""
    fields: list[str] = []
    real = execution._complete_tree

    def spy(tree: Any, value: Any, info: Any, *args: Any) -> Any:
        answer = real(tree, value, info, *args)  # raises when it gives up: not counted
        fields.append(info.field_name)
        return answer

    monkeypatch.setattr(execution, "_complete_tree", spy)
    return fields


async def _compare(document: str, variables: dict[str, Any] | None) -> tuple[Any, Any]:
    expected = _answer(await general.execute(document, variable_values=variables))
    got = _answer(await fast.execute(document, variable_values=variables))
    assert got == expected
    return got


@pytest.mark.parametrize(("document", "variables", "shortcut"), DOCUMENTS)
async def test_same_answer_as_the_general_path(
    document: str, variables: dict[str, Any] | None, shortcut: set[str], completed: list[str]
) -> None:
    _, errors = await _compare(document, variables)
    assert errors is None
    assert set(completed) == shortcut


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("field", ["top", "strictTop", "tops"])
async def test_values_the_general_path_must_answer(case: str, field: str, completed: list[str]) -> None:
    document = f'{{ {field}(case: "{case}") {{ {EVERYTHING} }} }}'
    _, errors = await _compare(document, None)
    if case == "ok":
        assert errors is None and completed
    elif case in ("a tuple where a list is due", "null mid"):
        assert errors is None  # answered by the shortcut, as the general path answers it
        assert field in completed
    else:  # an error, an awaitable or an iterable of another kind: the general path answers
        assert field not in completed or field == "tops"  # (tops: the item that is fine)


async def test_an_is_type_of_of_its_own_is_called_with_its_field(completed: list[str]) -> None:
    """Below the subtree's root there is no resolve info: an object type with an is_type_of
    other than Strawberry's (which may read it) is completed by the general path."""
    _, errors = await _compare("{ top { title tagged { label } refused { label } } }", None)
    assert errors == [("Expected value of type 'Tagged' but got: <Tagged instance>.",
                       ["top", "refused"])]
    assert completed == ["tagged"]  # the root of its own subtree, with its own field's info


async def test_errors_are_reported_at_their_exact_paths() -> None:
    document = f'{{ top(case: "null must in a list item") {{ {EVERYTHING} }} }}'
    _, errors = await _compare(document, None)
    assert errors == [("Cannot return null for non-nullable field Mid.must.", ["top", "mids", 1, "must"])]
    document = f'{{ top(case: "null tag in a non-null list") {{ {EVERYTHING} }} }}'
    _, errors = await _compare(document, None)
    assert errors == [("Cannot return null for non-nullable field Leaf.tags.",
                       ["top", "mid", "must", "tags", 1])]


async def test_random_values_at_random_places() -> None:
    """Random corruptions anywhere in the tree: every answer is the general path's."""
    rnd = random.Random(6)
    odd = [None, 2**40, "text", 1.5, True, ValueError("boom"), NotALeaf(), [], ["s"], [None],
           ("t",), Color.BLUE, leaf(5), mid(5), datetime(2026, 1, 1), {"k": 1}, object()]
    paths = ["title", "data", "mid", "mid.id", "mid.leaf", "mid.must", "mid.must.n",
             "mid.must.tags", "mid.must.tags.0", "mid.leaves", "mid.leaves.0", "mid.leaves.2.when",
             "mid.maybe_leaves", "mid.maybe_leaves.0", "mid.grid", "mid.grid.0", "mid.grid.2.0",
             "mids", "mids.0", "mids.1.leaves.1.maybe_tags", "mids.1.must.color", "mid.must.name"]
    document = f"{{ top {{ {EVERYTHING} }} }}"
    for n in range(150):
        chosen = [(rnd.choice(paths), rnd.choice(odd)) for _ in range(rnd.randrange(1, 3))]

        def make(chosen: list[tuple[str, Any]] = chosen) -> Top:
            root = top()
            for path, value in chosen:
                try:
                    *parents, last = path.split(".")
                    target: Any = root
                    for part in parents:
                        target = target[int(part)] if part.isdigit() else getattr(target, part)
                    if last.isdigit():
                        target[int(last)] = value
                    else:
                        setattr(target, last, value)
                except Exception:  # noqa: BLE001 (a path through a replaced value)
                    pass
            return root

        CASES[f"random {n}"] = make
        try:
            await _compare(document.replace("top {", f'top(case: "random {n}") {{', 1), None)
        finally:
            del CASES[f"random {n}"]


async def test_a_document_without_directives_shares_its_plans(
    completed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document with no directive collects the same fields whatever its variables: its tree
    plans are kept across operations (of the same parsed document); one with @skip/@include is
    planned per operation, from its variables."""
    cached = strawberry.Schema(
        query=Query, execution_context_class=PlainListExecutor, extensions=[ParserCache],
        config=strawberry.schema.config.StrawberryConfig(scalar_map=SCALAR_MAP),
    )
    monkeypatch.setattr(execution, "_SHARED_TREES", {})
    built: list[str] = []
    real = PlainListExecutor._build_tree

    def build(self: PlainListExecutor, object_type: Any, details: Any) -> Any:
        built.append(object_type.name)
        return real(self, object_type, details)

    monkeypatch.setattr(PlainListExecutor, "_build_tree", build)
    doc = "query($c: String!) { top(case: $c) { title mid { id must { name } } } }"
    answers = [_answer(await cached.execute(doc, variable_values={"c": c}))
               for c in ("ok", "null mid", "ok")]
    assert answers[0] == answers[2] != answers[1]
    assert answers[1] == _answer(await general.execute(doc, variable_values={"c": "null mid"}))
    assert built == ["Top"] and len(execution._SHARED_TREES) == 1
    assert completed == ["top", "top", "top"]
    skipping = "query($s: Boolean!) { top { title @skip(if: $s) mid { id } } }"
    for s in (True, False, True):
        expected = _answer(await general.execute(skipping, variable_values={"s": s}))
        assert _answer(await cached.execute(skipping, variable_values={"s": s})) == expected
    assert built == ["Top"] * 4 and len(execution._SHARED_TREES) == 1


async def test_the_shared_plans_stay_bounded() -> None:
    for n in range(execution.MAX_SHARED_TREES + 20):
        result = await fast.execute(f"{{ top {{ t{n}: title }} }}")
        assert result.data == {"top": {f"t{n}": "top"}}
    assert len(execution._SHARED_TREES) <= execution.MAX_SHARED_TREES
    assert len(execution._STATIC_DOCUMENTS) <= execution.MAX_SHARED_TREES
    info = execution._generate_tree.cache_info()
    assert info.maxsize is not None and info.currsize <= info.maxsize


async def test_deep_and_wide_selections_are_left_to_the_general_path(completed: list[str]) -> None:
    schemas = [
        strawberry.Schema(query=DeepQuery, execution_context_class=cls) for cls in (PlainListExecutor, None)
    ]
    for depth in (3, 12, 25):
        selection = "value"
        for _ in range(depth):
            selection = f"value child {{ {selection} }} children {{ value }}"
        document = f"{{ root {{ {selection} }} }}"
        got, expected = [_answer(await s.execute(document)) for s in schemas]
        assert got == expected and got[1] is None
    assert completed  # the shallow parts are still completed by the shortcut
    wide = "{ root { " + " ".join(f"v{i}: value" for i in range(execution.MAX_TREE_FIELDS + 1)) + " } }"
    completed.clear()
    got, expected = [_answer(await s.execute(wide)) for s in schemas]
    assert got == expected
    assert "root" not in completed
