"""`Command.from_values` (app/services/commands.py) builds a command from the usual values without
pydantic's validation, and sends everything else to `model_validate`. Here both build every
command from valid and invalid values of every field (bounds, lengths, whitespace validation
strips, non-ASCII and lone surrogates, NUL, wrong JSON types, documents with odd keys, nesting,
64-bit integers, unknown and missing fields), alone and in random combinations: the same model
(the same values in the same order, of the same types, the same fields set, the same dumps), or
the same errors. And the fast path is really taken for GraphQL's usual input."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel, TypeAdapter

from app.services import command_builder, commands
from app.services.commands import Command, RegisterArtifact


def _all_commands() -> list[type[Command]]:
    found, todo = [], [Command]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("app.") and sub not in found:
                found.append(sub)
                todo.append(sub)
    return sorted(found, key=lambda c: c.__name__)


COMMANDS = _all_commands()

TEXTS = ["a", "x" * 50, "x" * 51, "x" * 100, "x" * 101, "x" * 255, "x" * 256, "x" * 4096,
         "x" * 4097, "", " ", "\t", " a", "a ", "\ta", "a\n", "\x1ca", "a\x1f", "\x0ba", "a\x0c",
         "\x85a", "a\xa0", "\u3000a", "a\u2028", "\ufeffa", "a\u200b", "é", "naïve", "名前",
         "a\ud800", "\udfff", "a\x00b", "\x00", "ok.name-1_2", "UPPER", "has space inside",
         "jenkins", "JENKINS", "a..b", "1", "true", "string", "json", "pending", "from_artifact",
         "2026-12-01T00:00:00Z"]
NUMBERS = [0, 1, -1, 20, 100, 101, 3600, 1_000_000, 1_000_001, 2_147_483_647, 2_147_483_648,
           2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 7 * 24 * 3600 + 1, 1.0, 1.5, float("nan")]
DOCUMENTS = [{}, {"vm_id": "i-abc123", "snapshot_id": "snap-xyz789"}, {" k": 1}, {"k ": 1},
             {"\tk": 1}, {"\x1ck": 1}, {"é": 1}, {"\ud800": 1}, {"k\x00": 1}, {"k": "\x00"},
             {"k": "\ud800"}, {"k": 2**63}, {"k": -(2**63)}, {"k": [1, 2.5, None, True, "s"]},
             {"k": {"n": {"m": [{"x": 1}]}}}, {"k": float("inf")}, {1: "int key"},
             {"k": (1, 2)}, {"k": object}, {"k": datetime(2026, 1, 1)}, {"a": " spaced "},
             {"a": {" inner key ": 1}}]
for depth in (30, 31, 32, 33):
    nested: Any = 1
    for _ in range(depth):
        nested = {"n": nested}
    DOCUMENTS.append(nested)
OTHERS = [None, True, False, [], ["a"], ["a", " b"], ["\x00"], ["a"] * 101, b"bytes",
          datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 1),
          commands.BuildStatus.pending, commands.VariableType.json, {"platform": "jenkins"},
          {"platform": "Jenkins", "job": "a..b"}, {"platform": "generic", "extra": 1}]
VALUES = TEXTS + NUMBERS + DOCUMENTS + OTHERS


def _outcome(build: Any, cls: type[Command], data: dict[str, Any]) -> tuple:
    try:
        model = build(cls, dict(data))
    except pydantic.ValidationError as exc:
        return ("error", exc.title, exc.errors(include_url=False))
    assert type(model) is cls
    return ("model", [(k, type(v), v) for k, v in model.__dict__.items()],
            sorted(model.model_fields_set), type(model.model_fields_set), model.__pydantic_extra__, model.__pydantic_private__,
            _dump(model.model_dump_json), _dump(model.model_dump))


def _dump(dump: Any) -> Any:
    try:
        return dump()
    except Exception as exc:  # e.g. a lone surrogate in a document: either way alike
        return ("cannot dump", type(exc), str(exc))


def _same(cls: type[Command], data: dict[str, Any]) -> bool:
    """Compares both; True when `from_values` answered without validation."""
    expected = _outcome(lambda c, d: c.model_validate(d), cls, data)
    fast = _fast(cls)
    original = fast.__globals__["validate"]
    used = []

    def validate(d: Any) -> Any:
        used.append(d)
        return original(d)

    fast.__globals__["validate"] = validate
    try:
        got = _outcome(lambda c, d: c.from_values(d), cls, data)
    finally:
        fast.__globals__["validate"] = original
    assert _comparable(got) == _comparable(expected), (cls.__name__, data)
    return not used


def _fast(cls: type[Command]) -> Any:
    function = command_builder.from_values_builder(cls)
    if not hasattr(function, "__globals__") or "validate" not in function.__globals__:
        pytest.skip(f"{cls.__name__} is always validated")
    return function


def _comparable(outcome: tuple) -> Any:
    # NaN is not equal to itself: compare its text.
    return repr(outcome)


def _valid(cls: type[Command]) -> dict[str, Any]:
    """Values for the required fields that validation accepts."""
    good = {"state_code": 20, "code": 20, "name": "n", "artifact_name": "a", "artifact_type": "t",
            "artifact_path": "p", "project_id": "demo", "build_number": 1, "status": "completed",
            "error_message": "e", "variable_key": "K", "variable_value": "v", "platform": "p",
            "resume_reason": "r", "id": "proj", "url": "https://example.test/x"}
    return {name: good[name] for name, field in cls.model_fields.items()
            if field.is_required()}


@pytest.mark.parametrize("cls", COMMANDS, ids=lambda c: c.__name__)
def test_every_field_alone(cls: type[Command]) -> None:
    base = _valid(cls)
    fast_count = 0
    assert _outcome(lambda c, d: c.model_validate(d), cls, base)[0] == "model", cls
    if command_builder._plain_plan(cls) is None:
        assert command_builder.from_values_builder(cls) == cls.model_validate
        assert cls.from_values(base) == cls.model_validate(base)
        return
    for name in cls.model_fields:
        for value in VALUES:
            fast_count += _same(cls, {**base, name: value})
    # The fast path is taken unless a required field is one it does not read (a pattern…).
    unread = [name for name, default, _, condition, _ in command_builder._plain_plan(cls)
              if default is command_builder._REQUIRED and condition is None]
    assert (fast_count > 0) == (not unread), (cls, unread)
    # Missing required fields, an unknown field, an empty input.
    _same(cls, {})
    _same(cls, {**base, "unknown": 1})
    for name in base:
        _same(cls, {k: v for k, v in base.items() if k != name})
    assert _same(cls, base) == (not unread)


@pytest.mark.parametrize("cls", COMMANDS, ids=lambda c: c.__name__)
def test_random_combinations(cls: type[Command]) -> None:
    if command_builder._plain_plan(cls) is None:
        pytest.skip(f"{cls.__name__} is always validated")
    rnd = random.Random(cls.__name__)
    names = list(cls.model_fields)
    for _ in range(600):
        data = _valid(cls) if rnd.random() < 0.7 else {}
        for name in rnd.sample(names, rnd.randint(0, len(names))):
            data[name] = rnd.choice(VALUES)
        if rnd.random() < 0.05:
            data["unknown"] = rnd.choice(VALUES)
        _same(cls, data)


def test_graphql_usual_input_takes_the_fast_path() -> None:
    """The benchmark's registerArtifact input (and one with every field GraphQL can send
    plainly) is built without validation, and its document is copied as validation copies
    it."""
    metadata = {"vm_id": "i-abc123", "snapshot_id": "snap-xyz789"}
    usual = {"state_code": 20, "artifact_name": "bench-w-1", "artifact_type": "vm_snapshot",
             "artifact_path": "s3://my-bucket/snapshots/bench-w-1.vmdk",
             "storage_backend": "s3", "is_resumable": True, "metadata": metadata}
    assert _same(RegisterArtifact, usual)
    full = {**usual, "storage_region": "us-east-1", "storage_bucket": None, "storage_key": "k",
            "size_bytes": 2**63 - 1, "checksum": "abc", "checksum_algorithm": "md5",
            "is_final": False}
    assert _same(RegisterArtifact, full)
    model = RegisterArtifact.from_values(usual)
    assert model.metadata == metadata and model.metadata is not metadata
    # A date-time goes through validation (its own validator), with the same result.
    assert not _same(RegisterArtifact,
                     {**usual, "expires_at": datetime(2026, 1, 1, tzinfo=timezone.utc)})


def test_pydantic_internals_it_sets() -> None:
    """`from_values` sets the instance state `model_construct` sets (pydantic 2.14): if
    pydantic adds a slot or stops setting one, this fails."""
    assert BaseModel.__slots__ == ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__",
                                   "__pydantic_private__")
    data = {"state_code": 1, "artifact_name": "a", "artifact_type": "t", "artifact_path": "p"}
    built = RegisterArtifact.from_values(data)
    constructed = RegisterArtifact.model_construct(**data)
    validated = RegisterArtifact.model_validate(data)
    for slot in BaseModel.__slots__:
        assert getattr(built, slot) == getattr(constructed, slot) == getattr(validated, slot)
    assert built == validated and built.model_copy() == validated.model_copy()


def test_strip_removes_no_ascii_character_python_keeps() -> None:
    """The fast path takes an ASCII text Python's strip leaves unchanged: validation's strip
    (pydantic's str_strip_whitespace) must remove no character Python's keeps."""
    adapter = TypeAdapter(str, config=pydantic.ConfigDict(str_strip_whitespace=True))
    for code in range(128):
        text = f"{chr(code)}a{chr(code)}"
        if code == 0:
            continue
        if adapter.validate_python(text) != text:
            assert text.strip() != text, repr(chr(code))


def test_every_command_validated_alike_through_graphql_helper() -> None:
    """schema.mutations.base.command builds commands through `from_values`; other models
    (webhook subscriptions) through `model_validate`."""
    from app.services.webhooks import CreateSubscription
    from schema.mutations.base import command

    usual = {"state_code": 20, "artifact_name": "n", "artifact_type": "t",
             "artifact_path": "p", "metadata": {"k": 1}}
    assert command(RegisterArtifact, usual) == RegisterArtifact.model_validate(usual)
    with pytest.raises(pydantic.ValidationError) as fast:
        command(RegisterArtifact, {**usual, "state_code": -1})
    with pytest.raises(pydantic.ValidationError) as slow:
        RegisterArtifact.model_validate({**usual, "state_code": -1})
    assert fast.value.errors() == slow.value.errors()
    subscription = {"name": "n", "url": "https://example.test/h", "events": ["build.failed"]}
    try:
        expected = CreateSubscription.model_validate(subscription)
    except pydantic.ValidationError:
        expected = None
    if expected is not None:
        assert command(CreateSubscription, subscription) == expected
