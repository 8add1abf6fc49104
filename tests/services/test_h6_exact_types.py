"""`Command._exact_json_types` answers through a check compiled once per field, with shortcuts for
the usual values (app.services.commands._compiled_check). Here every command is validated by it
and by a twin carrying the original rule (the declaration read on every call, every check run in
order, copied below as the oracle), on valid and invalid values of every field (wrong JSON types,
NUL characters, 64-bit bounds, nesting, lengths, whitespace) alone and in random combinations:
the same model, or the same errors (type, location, message, input, context), as REST's 422 and
GraphQL's ValidationError report them."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from types import UnionType
from typing import Any, Union, get_args, get_origin

import pydantic
import pytest
from pydantic import BaseModel, ValidationInfo, field_validator

from app.services import commands
from app.services.commands import Command, _check_json, _check_text

_INT64 = (-(2**63), 2**63 - 1)


def _original_rules(cls: type[BaseModel], name: str) -> tuple | None:
    field = cls.model_fields.get(name)
    if field is None:
        return None
    limit = next((m.max_length for m in field.metadata
                  if getattr(m, "max_length", None) is not None), None)
    union = get_origin(field.annotation) in (Union, UnionType)
    kinds = set(get_args(field.annotation)) if union else {field.annotation}
    return (limit, bool in kinds, int in kinds and bool not in kinds, datetime in kinds,
            any(k is dict or getattr(k, "__origin__", None) is dict for k in kinds))


def _original(cls: Any, value: Any, info: ValidationInfo) -> Any:
    """The rule as it was before it was compiled per field."""
    if value is None:
        return value
    rules = _original_rules(cls, info.field_name or "")
    if rules is None:
        return value
    limit, boolean, integer, moment, document = rules
    _check_text(value, "the value")
    if isinstance(value, str):
        if limit is not None and len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
    if boolean and not isinstance(value, bool):
        raise ValueError("must be true or false")
    if integer and isinstance(value, (bool, str)):
        raise ValueError("must be an integer")
    if moment and isinstance(value, (bool, int, float)):
        raise ValueError("must be an ISO 8601 date-time")
    if document:
        _check_json(value, "the document")
    return value


def _twin(cls: type[Command]) -> type[Command]:
    """The command with the original rule under the same validator name (pydantic replaces an
    inherited validator of that name in place: same order among the others) and the same
    class name (the errors' title)."""
    rule = field_validator("*", mode="before")(classmethod(_original))
    return type(cls)(cls.__name__, (cls,), {"__module__": cls.__module__,
                                            "__qualname__": cls.__qualname__,
                                            "_exact_json_types": rule})


class Mixed(Command):
    """Declarations no command has yet, for the shortcuts' guards (a bool or an int where a
    date-time or a document is allowed too)."""

    flag_or_moment: bool | datetime | None = None
    number_or_moment: int | datetime | None = None
    number_or_document: int | dict[str, Any] | None = None
    text_or_flag: str | bool | None = None


COMMANDS = sorted(
    (c for c in vars(commands).values()
     if isinstance(c, type) and issubclass(c, Command) and c.model_fields),
    key=lambda c: c.__name__,
) + [Mixed]
TWINS = {c: _twin(c) for c in COMMANDS}


def _nested(levels: int, leaf: Any, container: str = "dict") -> Any:
    value = leaf
    for _ in range(levels):
        value = {"x": value} if container == "dict" else [value]
    return value


class _Text(str):
    pass


class _Object(dict):
    pass


VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 7, 2**31, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**70,
    0.0, 1.5, -2.5, float("inf"), "", " ", "\t", " x ", "x", "3", "true", "false", "null",
    "a\x00b", "\x00", "ü" * 50, "x" * 51, "x" * 100, "x" * 101, "x" * 255, "x" * 256,
    " " * 60 + "x", "x" * 4096, "x" * 4097, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00",
    "not a date", "completed", "pending", "from_artifact", "json", "jenkins", "a..b",
    datetime(2030, 1, 1, tzinfo=timezone.utc), datetime(2030, 1, 1), {}, {"a": "b"},
    {"a": 1, "b": [1, 2.5, None, True, {"c": "d"}]}, {"a\x00": 1}, {"a": "b\x00"},
    {"a": [1, "x\x00"]}, {"a": 2**63}, {"a": -(2**63) - 1}, {"a": [1, {"b": 2**64}]},
    {"a": 2**64, "b": "c\x00"}, {"a": "c\x00", "b": 2**64}, {1: "x"}, {None: 1}, {"k": b"x"},
    {"k": (1, 2)}, {"k": _Text("t\x00")}, {"k": _Object(a=2**70)}, _Object(a=1),
    _Object(a="\x00"), _Text("text"), _Text("t\x00"), [], ["x"], ["a\x00"], [2**70], [[[]]],
    ("x",), b"bytes", {"platform": "jenkins", "job": "j"}, {"platform": "x", "extra": "\x00"},
    _nested(30, "v"), _nested(31, "v"), _nested(32, "v"), _nested(33, "v"), _nested(40, "v"),
    _nested(32, {}), _nested(33, {}), _nested(31, "v\x00"), _nested(31, 2**64),
    _nested(32, 2**64), _nested(33, 2**64), _nested(31, "v", "list"), _nested(32, "v", "list"),
    _nested(33, "v", "list"), _nested(32, [], "list"), _nested(33, [], "list"),
    {"a": _nested(31, "v")}, {"a": _nested(32, "v")}, {"a": _nested(31, [], "list")},
    {"a": _nested(32, [], "list")}, {"a": _nested(30, 1)}, {"a": _nested(31, 1)},
]


def _errors(exc: pydantic.ValidationError) -> list[dict]:
    """Every part of every error; the context's exception by its type and text."""
    out = []
    for error in exc.errors():
        error = dict(error)
        if "ctx" in error:
            error["ctx"] = {k: (type(v).__name__, str(v)) if isinstance(v, Exception) else v
                            for k, v in error["ctx"].items()}
        out.append(error)
    return out


def _outcome(cls: type[BaseModel], data: Any, *, mode: str = "python") -> tuple:
    try:
        if mode == "json":
            model = cls.model_validate_json(data)
        else:
            model = cls.model_validate(data)
    except pydantic.ValidationError as exc:
        return ("refused", exc.title, _errors(exc), str(exc))
    return ("built", type(model).__name__, model.model_dump(), repr(model))


def _same_outcome(cls: type[Command], data: Any) -> None:
    assert _outcome(cls, data) == _outcome(TWINS[cls], data), (cls.__name__, data)
    try:
        text = json.dumps(data)
    except (TypeError, ValueError):
        return
    assert _outcome(cls, text, mode="json") == _outcome(TWINS[cls], text, mode="json"), (
        cls.__name__, text)


@pytest.mark.parametrize("cls", COMMANDS, ids=lambda c: c.__name__)
def test_every_value_of_every_field_alone(cls: type[Command]) -> None:
    for name in cls.model_fields:
        for value in VALUES:
            _same_outcome(cls, {name: value})


@pytest.mark.parametrize("cls", COMMANDS, ids=lambda c: c.__name__)
def test_random_combinations(cls: type[Command]) -> None:
    draw = random.Random(f"h6-{cls.__name__}")
    names = list(cls.model_fields) + ["unknown_field"]
    for _ in range(300):
        chosen = draw.sample(names, k=min(len(names), draw.randint(1, 5)))
        _same_outcome(cls, {name: draw.choice(VALUES) for name in chosen})


def test_valid_artifacts_alike() -> None:
    from tests.services.test_write_values import COMMANDS as ARTIFACTS

    for data in ARTIFACTS.values():
        assert _outcome(commands.RegisterArtifact, data)[0] == "built"
        _same_outcome(commands.RegisterArtifact, data)


def test_the_twins_differ_only_in_the_rule() -> None:
    """The oracle is the original rule, in the same place: a twin whose rule passes everything
    would make every comparison above pass, so check it refuses what the rule refuses."""
    twin = TWINS[commands.RegisterArtifact]
    refused = {e["loc"]: e["msg"] for e in _outcome(twin, {"is_resumable": 0})[2]}
    assert refused[("is_resumable",)] == "Value error, must be true or false"
    assert twin.__name__ == "RegisterArtifact"
    assert list(twin.__pydantic_decorators__.field_validators) == list(
        commands.RegisterArtifact.__pydantic_decorators__.field_validators)
    assert twin.__pydantic_decorators__.field_validators["_exact_json_types"].func.__func__ \
        is _original
