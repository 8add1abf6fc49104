"""Custom scalars: JSON objects and 64-bit integers (artifact sizes pass 2 GiB)."""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from strawberry.scalars import JSON

BigInt = NewType("BigInt", int)


def _parse_big_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("BigInt cannot represent a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"BigInt cannot represent {value!r}")


SCALAR_MAP = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="A 64-bit integer, sent as a JSON number (a decimal string is accepted as input).",
        serialize=int,
        parse_value=_parse_big_int,
    ),
}

__all__ = ["JSON", "SCALAR_MAP", "BigInt"]
