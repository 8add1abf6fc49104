"""The generated completion functions (schema/execution.py) give, value for value, what the
interpreted loop they replace gave: the same dicts, the same `_NotPlain`, the same exceptions.
tests/graphql/test_plain_lists.py compares whole answers with graphql-core's general path."""

from __future__ import annotations

import itertools
import math
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
import strawberry
from graphql import Undefined
from graphql.pyutils import is_awaitable
from graphql.type.scalars import (
    serialize_boolean,
    serialize_float,
    serialize_id,
    serialize_int,
    serialize_string,
)
from strawberry.schema.types import base_scalars
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY
from strawberry.scalars import JSON

import schema.execution as execution
from schema.execution import _generate, _kind, _NotPlain, _Plan

# --- The interpreted loop as it was before code generation: the reference ----------------------
#
# One deliberate change: an item whose read (`is_type_of`, an attribute) raises now gives up
# (`_NotPlain`), so that the general path reports the error at the field's path; the loop let
# it escape, and graphql-core reported it at the list's path.

_UNCHANGED = {serialize_string: str, serialize_id: str, serialize_boolean: bool, serialize_int: int}
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def reference(plan: list[Any], items: list[Any], non_null: bool, is_type_of: Any) -> list[Any]:
    completed: list[Any] = []
    for item in items:
        if item is None:
            if non_null:
                raise _NotPlain
            completed.append(None)
            continue
        try:
            answer = _reference_item(plan, item, is_type_of)
        except Exception:  # noqa: BLE001
            raise _NotPlain from None
        completed.append(answer)
    return completed


def _reference_item(plan: list[Any], item: Any, is_type_of: Any) -> dict[str, Any]:
    if is_type_of is not None and is_type_of(item, None) is not True:
        raise _NotPlain
    answer: dict[str, Any] = {}
    for response_key, attribute, coerce, required in plan:
        unchanged = _UNCHANGED.get(coerce)
        if attribute is None:
            answer[response_key] = coerce
            continue
        value = getattr(item, attribute)
        if type(value) is unchanged and (unchanged is not int or _INT_MIN <= value <= _INT_MAX):
            answer[response_key] = value
            continue
        if value is None or value is Undefined:
            if required:
                raise _NotPlain
            answer[response_key] = None
            continue
        if type(value) not in execution._SETTLED and (
            isinstance(value, Exception) or is_awaitable(value)
        ):
            raise _NotPlain
        try:
            coerced = coerce(value)
        except Exception:
            raise _NotPlain from None
        if coerced is None or coerced is Undefined:
            raise _NotPlain
        answer[response_key] = coerced
    return answer


def _shown(value: Any) -> Any:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 (BAD_UUID, passed through as it is by JSON)
        return ("object", id(value))


def outcome(run: Any) -> Any:
    """What a completion answered, typed (1 is not True, nan is nan), or what it raised."""
    try:
        answer = run()
    except Exception as exc:  # noqa: BLE001
        return ("raised", type(exc), str(exc))
    return [
        None if item is None else [(k, type(v), _shown(v)) for k, v in item.items()]
        for item in answer
    ]


def generated(plan: list[Any], items: list[Any], non_null: bool, is_type_of: Any) -> list[Any]:
    compiled = _Plan.of(plan)
    assert compiled is not None
    return compiled.complete(items, non_null, is_type_of, None, is_awaitable, compiled.coerces)


# --- Coercions of every kind and values of every shape ------------------------------------------


@strawberry.enum
class Color(Enum):
    RED = "red"


@strawberry.type
class ColorQuery:
    color: Color


_graphql_color = strawberry.Schema(query=ColorQuery)._schema.get_type("Color")

COERCIONS: dict[str, Any] = {
    "String": serialize_string,
    "ID": serialize_id,
    "Int": serialize_int,
    "Boolean": serialize_boolean,
    "Float": serialize_float,  # no fast rule: always called
    "BigInt": int,
    "UUID": base_scalars.UUIDDefinition.serialize,  # str
    "Decimal": base_scalars.DecimalDefinition.serialize,  # str
    "DateTime": base_scalars.DateTimeDefinition.serialize,  # methodcaller("isoformat")
    "Date": base_scalars.DateDefinition.serialize,
    "Time": base_scalars.TimeDefinition.serialize,
    "JSON": DEFAULT_SCALAR_REGISTRY[JSON].serialize,  # lambda v: v
    "Enum": _graphql_color.coerce_output_value,
}


def test_every_coercion_gets_its_kind() -> None:
    assert {name: _kind(c) for name, c in COERCIONS.items()} == {
        "String": "String", "ID": "ID", "Int": "Int", "Boolean": "Boolean", "Float": "call",
        "BigInt": "int", "UUID": "str", "Decimal": "str", "DateTime": "isoformat",
        "Date": "isoformat", "Time": "isoformat", "JSON": "identity", "Enum": "call",
    }
    # Look-alikes are called, not trusted.
    from operator import methodcaller

    assert _kind(lambda v: v) == "call"
    assert _kind(methodcaller("isoformat")) == "call"


class Text(str):
    pass


class Later(datetime):
    pass


class BrokenZone(tzinfo):
    def utcoffset(self, dt: Any) -> timedelta:
        raise RuntimeError("no offset")


class Waiting:
    def __await__(self) -> Any:
        yield


class Named:
    def __str__(self) -> str:
        return "named"


BAD_UUID = object.__new__(uuid.UUID)  # no `int`: str() fails


VALUES: list[Any] = [
    None, Undefined, "text", "", Text("sub"), True, False, 0, 7, _INT_MAX, _INT_MIN,
    _INT_MAX + 1, _INT_MIN - 1, 2**70, 1.0, 2.5, math.nan, math.inf,
    uuid.UUID("12345678-1234-5678-1234-567812345678"), uuid.UUID(int=0), BAD_UUID,
    datetime(2026, 11, 28, 10, 1, 2), datetime(2026, 11, 28, 10, 1, 2, 3, tzinfo=UTC),
    datetime(2026, 1, 2, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    datetime(2026, 1, 2, tzinfo=BrokenZone()), Later(2026, 1, 2), date(2026, 11, 28),
    time(10, 1, 2), Decimal("1.50"), {"k": [1, {"x": None}]}, [1, "a"], (1, 2), b"bytes",
    Color.RED, Named(), object(), ValueError("boom"), Waiting(),
]


@dataclass(frozen=True)
class Record:
    value: Any


@pytest.mark.parametrize("name", sorted(COERCIONS))
def test_one_field_of_every_kind_and_value(name: str) -> None:
    coerce = COERCIONS[name]
    for value, required, key in itertools.product(VALUES, (True, False), ("value", "class")):
        plan = [(key, "value", coerce, required)]
        items = [Record(value)]
        expected = outcome(lambda: reference(plan, items, True, None))
        assert outcome(lambda: generated(plan, items, True, None)) == expected, (name, value)


def test_uuid_text_is_str_for_random_uuids() -> None:
    rnd = random.Random(6)
    values = [uuid.UUID(int=rnd.getrandbits(128)) for _ in range(20_000)]
    values += [uuid.uuid4() for _ in range(1000)] + [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]
    values += [uuid.UUID(int=1 << n) for n in range(128)]
    for coerce in (serialize_id, COERCIONS["UUID"]):
        plan = [("id", "value", coerce, True)]
        got = generated(plan, [Record(v) for v in values], True, None)
        assert [a["id"] for a in got] == [str(v) for v in values]


# Odd names: Python keywords, soft keywords, dunders, NFKC look-alikes (`ﬁ` would read `fi` in
# source), names that are no identifier at all, quotes.
ODD_NAMES = ["class", "None", "True", "match", "_", "__class__", "__dict__", "ﬁ", "fi", "a-b",
             "it's", 'x"y', "1st", "ĕ", "item", "v0", "C0", "slow", "NotPlain", "append"]


class Odd:
    def __init__(self, i: int) -> None:
        for n, name in enumerate(ODD_NAMES):
            if not name.startswith("__"):
                setattr(self, name, f"{name}-{i}-{n}")


def test_odd_attribute_names_and_response_keys() -> None:
    plan = [(f"{name}", name, serialize_string, True) for name in ODD_NAMES if name[:2] != "__"]
    plan += [("__typename", None, "Odd", True), ("None", None, "class", True)]
    items = [Odd(i) for i in range(3)]
    answer = generated(plan, items, True, None)
    assert answer == reference(plan, items, True, None)
    assert answer[1]["ﬁ"] == "ﬁ-1-7" and answer[1]["fi"] == "fi-1-8"
    source = _Plan.of(plan).complete.__source__  # type: ignore[union-attr]
    assert "item.class" not in source and "item.ﬁ" not in source and "getattr(item, A0)" in source
    dunder = [("k", "__class__", serialize_string, True)]  # not a str: coerced, as before
    assert outcome(lambda: generated(dunder, items, True, None)) == outcome(
        lambda: reference(dunder, items, True, None)
    )


def test_lists_items_and_orders() -> None:
    """Many fields of random kinds over random items: nulls in the list, refused items, a field
    whose read raises, an is_type_of that raises, and the order in which failures are met."""
    rnd = random.Random(28)

    class Raises:
        def __getattr__(self, name: str) -> Any:
            raise AttributeError(name)

    def is_type_of(item: Any, _info: Any) -> bool:
        if isinstance(item, str):
            raise TypeError("cannot tell")
        return not isinstance(item, int)

    names = sorted(COERCIONS)
    for _ in range(600):
        width = rnd.randrange(0, 6)
        plan: list[Any] = []
        for i in range(width):
            if rnd.random() < 0.1:
                plan.append((f"t{i}", None, "T", True))
            else:
                plan.append((f"f{i}", "value", COERCIONS[rnd.choice(names)], rnd.random() < 0.5))
        items: list[Any] = []
        for _ in range(rnd.randrange(0, 4)):
            roll = rnd.random()
            items.append(
                None if roll < 0.1 else 3 if roll < 0.13 else Raises() if roll < 0.16
                else "?" if roll < 0.19 else Record(rnd.choice(VALUES))
            )
        non_null = rnd.random() < 0.5
        check = is_type_of if rnd.random() < 0.5 else None
        expected = outcome(lambda: reference(plan, items, non_null, check))
        got = outcome(lambda: generated(plan, items, non_null, check))
        assert got == expected, (plan, items, non_null)


def test_one_function_per_shape_and_a_bounded_cache() -> None:
    _generate.cache_clear()
    plan = [("a", "value", serialize_string, True), ("b", "value", int, False)]
    first, second = _Plan.of(plan), _Plan.of(list(plan))
    assert first is not None and second is not None
    assert first.complete is second.complete
    assert _generate.cache_info().misses == 1
    other = _Plan.of([("a", "value", serialize_id, True), ("b", "value", int, False)])
    assert other is not None and other.complete is not first.complete
    maxsize = _generate.cache_info().maxsize
    assert maxsize is not None
    for n in range(maxsize + 50):
        _Plan.of([(f"k{n}", "value", serialize_string, True)])
    assert _generate.cache_info().currsize == maxsize


def test_a_key_that_is_not_a_str_is_not_generated() -> None:
    class Key(str):
        def __repr__(self) -> str:
            return "__import__('os')"

    assert _Plan.of([(Key("a"), "value", serialize_string, True)]) is None
    assert _Plan.of([("__typename", None, Key("T"), True)]) is None


def test_null_items_follow_the_list_type() -> None:
    compiled = _Plan.of([("v", "value", serialize_int, False)])
    assert compiled is not None
    assert compiled.complete([None], False, None, None, is_awaitable, compiled.coerces) == [None]
    with pytest.raises(_NotPlain):
        compiled.complete([None], True, None, None, is_awaitable, compiled.coerces)
