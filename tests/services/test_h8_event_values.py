"""`event_db_values` sends a text column's value as is when its field's conversion is proven the
identity (`_plain_text_limit`: Field's own to_db_value and validate, str field_type, only
MaxLengthValidators) and the value is an exact str within the limit or None on a nullable
column; anything else goes through the field's `to_db_value`. Compared here, column by column
and value by value (within, at and over the limit, None, str subclasses, non-str values), with
what each field's own `to_db_value` returns or raises; test_write_values.py compares whole rows
with the ORM's. No database statement: both backends run it alike."""

from __future__ import annotations

import enum
import uuid
from typing import Any

import pytest
from tortoise import fields as tf
from tortoise.exceptions import ValidationError
from tortoise.validators import MaxLengthValidator, MinLengthValidator

from app.services import common
from app.services.common import EVENT_COLUMNS, event_db_values
from db.models import Event
from tests.services.test_write_values import frozen_clock  # noqa: F401

_FIELDS = Event._meta.fields_map


class _Str(str):
    pass


class _Color(str, enum.Enum):
    RED = "red"


def _base_fields() -> dict[str, Any]:
    return {"actor": "a", "action": "x.done", "target_type": "t", "target_id": "1",
            "project_id": None, "build_id": None, "request_id": None, "reason": None,
            "data": {}}


def _candidates(column: str) -> list[Any]:
    limit = common._plain_text_limit(_FIELDS[column])
    sized = [] if limit in (None, float("inf")) else [
        "x" * (limit - 1), "x" * limit, "x" * (limit + 1), "é" * limit, "é" * (limit + 1)]
    return sized + ["", "plain", "Zürich ✓", None, _Str("sub"), 7, 1.5, True,
                    uuid.UUID(int=5), _Color.RED, b"bytes", ["l"], {"d": 1}]


def _outcome(call: Any) -> tuple:
    try:
        value = call()
    except Exception as exc:  # noqa: BLE001 - compared
        return ("error", type(exc), str(exc))
    return ("ok", type(value), value)


@pytest.mark.parametrize("column", EVENT_COLUMNS[1:])
def test_each_column_sends_what_its_field_sends(column) -> None:
    position = EVENT_COLUMNS.index(column)
    for value in _candidates(column):
        fields = _base_fields() | {column: value}
        mine = _outcome(lambda: event_db_values(fields)[1][position])
        theirs = _outcome(lambda: _FIELDS[column].to_db_value(value, Event))
        assert mine == theirs, (column, value)
        if mine[0] == "ok":  # the very object, where the field returns it unchanged
            assert (event_db_values(fields)[1][position] is value) == (
                _FIELDS[column].to_db_value(value, Event) is value)


def test_the_proof_holds_only_for_plain_text_fields() -> None:
    limits = {c: common._plain_text_limit(_FIELDS[c]) for c in EVENT_COLUMNS[1:]}
    assert limits == {"actor": _FIELDS["actor"].max_length, "action": _FIELDS["action"].max_length,
                      "target_type": _FIELDS["target_type"].max_length,
                      "target_id": _FIELDS["target_id"].max_length,
                      "project_id": _FIELDS["project_id"].max_length,
                      "build_id": None, "request_id": _FIELDS["request_id"].max_length,
                      "reason": float("inf"), "data": None}

    class Custom(tf.CharField):
        def to_db_value(self, value, instance):
            return value

    class Checked(tf.CharField):
        def validate(self, value):
            pass

    other_validator = tf.CharField(max_length=5, validators=[MinLengthValidator(2)])
    two = tf.CharField(max_length=9, validators=[MaxLengthValidator(4)])
    assert common._plain_text_limit(Custom(max_length=5)) is None
    assert common._plain_text_limit(Checked(max_length=5)) is None
    assert common._plain_text_limit(other_validator) is None
    assert common._plain_text_limit(two) == 4  # the tightest
    assert common._plain_text_limit(tf.IntField()) is None
    assert common._plain_text_limit(tf.TextField()) == float("inf")
    assert common._plain_text_limit(tf.UUIDField()) is None


def test_a_too_long_value_is_refused_as_the_field_refuses_it() -> None:
    limit = _FIELDS["actor"].max_length
    with pytest.raises(ValidationError) as mine:
        event_db_values(_base_fields() | {"actor": "w" * (limit + 1)})
    with pytest.raises(ValidationError) as theirs:
        _FIELDS["actor"].to_db_value("w" * (limit + 1), Event)
    assert str(mine.value) == str(theirs.value)
    with pytest.raises(ValidationError):  # NOT NULL text column: refused, not sent as None
        event_db_values(_base_fields() | {"actor": None})


class _Capture:
    """A client of no known type: `db.pool.fetch_rows` hands it the statement as it would
    `execute_query` (its general fallback); it answers "the event id 7 was written"."""

    def __init__(self) -> None:
        self.sent: list = []

    async def execute_query(self, query: str, values: list) -> tuple[int, list]:
        self.sent.append((query, values))
        return 1, [(7, None)]


@pytest.mark.parametrize("name", ["full", "minimal", "utc_expiry_no_size"])
async def test_the_register_statement_sends_the_orms_values(database, frozen_clock, writer,
                                                           name) -> None:
    """Every parameter of the register statement, artifact and event alike, against what the
    ORM sends for them: `Artifact(...)` / `Event(...)` and each field's own `to_db_value`."""
    from app.services import artifacts
    from app.services.commands import RegisterArtifact
    from tests.services.test_write_values import COMMANDS, _orm_values, _same

    command = RegisterArtifact.model_validate(COMMANDS[name])
    build_id = uuid.uuid4()
    capture = _Capture()
    await artifacts._register_on_postgres(capture, writer, str(build_id).upper(), command)
    [(query, sent)] = capture.sent
    assert query == artifacts._PG_REGISTER
    artifact, expected = _orm_values(build_id, command)
    expected[0] = str(uuid.UUID(sent[0]))  # the random id (a canonical uuid4 text)
    event = Event(actor=writer.name, action="artifact.registered", target_type="artifact",
                  target_id=sent[0], project_id=None, build_id=build_id,
                  request_id=writer.request_id, reason=None,
                  data={"after": {"artifact_name": command.artifact_name,
                                  "artifact_type": command.artifact_type,
                                  "state_code": command.state_code,
                                  "artifact_path": command.artifact_path}})
    meta = Event._meta.fields_map
    expected += [meta[c].to_db_value(getattr(event, c), event) for c in EVENT_COLUMNS
                 if c != "project_id"]
    assert len(sent) == len(expected) == query.count("$") - query.count("$$")
    for position, (got, want) in enumerate(zip(sent, expected, strict=True)):
        assert _same(got, want), (position, got, want)
