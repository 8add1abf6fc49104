"""The values registerArtifact's fast path computes without Tortoise's per-instance machinery
(app.services.artifacts._artifact_row, app.services.common.event_db_values / saved_instance) are
what the ORM computes: every column value sent (type included) against `Artifact(...)` + each
field's `to_db_value` and `Event(...)` + its `to_db_value`s, and every attribute of the returned
instances against what `Artifact.create` / `Event.create` leave. The clock is frozen (Tortoise's
`timezone.now`, which both take their auto_now times from); the uuid4 id cannot be: its type and
its text form are compared."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from tortoise import timezone as tz

from app.services import artifacts
from app.services.common import (
    EVENT_COLUMNS,
    event_db_values,
    event_fields,
    record_event,
    saved_instance,
)
from app.services.commands import RegisterArtifact
from db.models import Artifact, Event
from tests import factories as f

_FULL = dict(
    state_code=30, artifact_name="full", artifact_type="disk_image", artifact_path="s3://b/full",
    storage_backend="s3", storage_region="eu-west-1", storage_bucket="b", storage_key="full",
    size_bytes=3 * 2**40, checksum="c0ffee", checksum_algorithm="sha512", is_resumable=False,
    is_final=True,
    expires_at=datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2))),
    metadata={"float": 0.1, "unicode": "Zürich ✓ \u2028 😀", "nested": [{"a": None, "b": [1, []]}],
              "big": 2**62, "neg": -(2**63), "t": True},
)
COMMANDS = {
    "full": _FULL,
    "minimal": dict(state_code=0, artifact_name="m", artifact_type="ami", artifact_path="ami-1"),
    "empty_metadata_final": dict(state_code=1_000_000, artifact_name="ü" * 255, artifact_type="t",
                                 artifact_path="p", metadata={}, is_final=True, size_bytes=0),
    "utc_expiry_no_size": dict(state_code=5, artifact_name="u", artifact_type="t",
                               artifact_path="p", expires_at="2030-01-01T00:00:00Z",
                               checksum="x", metadata={"ключ": {"深": ["値", 1.5e300]}}),
}
_FROZEN = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone.utc)


@pytest.fixture
def frozen_clock(monkeypatch):
    monkeypatch.setattr(tz, "now", lambda: _FROZEN)


def _same(a: object, b: object) -> bool:
    """Equal and of the same type, datetimes with the same zone object and offset."""
    if type(a) is not type(b) or a != b:
        return False
    if isinstance(a, datetime):
        return a.tzinfo == b.tzinfo and a.utcoffset() == b.utcoffset()
    return True


def _orm_values(build_id: uuid.UUID, command: RegisterArtifact) -> tuple[Artifact, list]:
    """What the fast path sent before it planned its values: the ORM's own, per column."""
    artifact = Artifact(build_id=build_id, **command.model_dump())
    fields = Artifact._meta.fields_map
    return artifact, [fields[c].to_db_value(getattr(artifact, c), artifact)
                      for c, _ in artifacts._PG_COLUMNS]


@pytest.mark.parametrize("name", COMMANDS)
async def test_artifact_values_are_the_orms(database, frozen_clock, name) -> None:
    command = RegisterArtifact.model_validate(COMMANDS[name])
    build_id = uuid.uuid4()
    row, values = artifacts._artifact_row(build_id, command)
    _, expected = _orm_values(build_id, command)
    columns = [c for c, _ in artifacts._PG_COLUMNS]
    assert len(values) == len(expected) == len(columns)
    for column, got, want in zip(columns, values, expected):
        if column == "id":
            assert type(got) is type(want) is str and got == str(row["id"])
            assert uuid.UUID(got).version == 4
        else:
            assert _same(got, want), (column, got, want)
    assert values[columns.index("metadata")] == Artifact._meta.fields_map["metadata"].encoder(
        command.metadata)


@pytest.mark.parametrize("name", COMMANDS)
async def test_returned_artifact_is_what_create_returns(database, frozen_clock, writer,
                                                        name) -> None:
    pid = await f.project(writer, with_states=False)
    build = await f.build(writer, pid)
    command = RegisterArtifact.model_validate(COMMANDS[name])
    row, _ = artifacts._artifact_row(build.id, command)
    fast = saved_instance(Artifact, row)
    created = await Artifact.create(build_id=build.id, **command.model_dump())
    mine, theirs = vars(fast), vars(created)
    assert set(mine) == set(theirs)
    for attribute in theirs:
        if attribute == "id":
            assert type(mine["id"]) is uuid.UUID and mine["id"].version == 4
        else:
            assert _same(mine[attribute], theirs[attribute]), attribute
    assert fast.pk == fast.id and fast._saved_in_db and not fast._partial
    assert (await fast.build).id == build.id  # the relation resolves as on a created instance


def _event_arguments(build_id: uuid.UUID | None) -> dict:
    return dict(target_type="artifact", target_id=uuid.uuid4(), project_id="p" if build_id else None,
                build_id=build_id, data={"after": {"n": "é", "deep": [{"x": 2**62}]}})


@pytest.mark.parametrize("with_build", [True, False])
async def test_event_values_are_the_orms(database, frozen_clock, writer, with_build) -> None:
    arguments = _event_arguments(uuid.uuid4() if with_build else None)
    fields = event_fields(writer, "artifact.registered", **arguments)
    created_at, values = event_db_values(fields)
    event = Event(actor=writer.name, action="artifact.registered", request_id=writer.request_id,
                  reason=None, **(arguments | {"target_id": str(arguments["target_id"])}))
    meta = Event._meta.fields_map
    expected = [meta[c].to_db_value(getattr(event, c), event) for c in EVENT_COLUMNS]
    for column, got, want in zip(EVENT_COLUMNS, values, expected, strict=True):
        assert _same(got, want), (column, got, want)
    assert _same(created_at, event.created_at)


async def test_event_values_keep_the_orms_validation(database, writer) -> None:
    """The ORM refuses a value its column cannot hold before sending it; so do they."""
    from app.services.actor import Actor
    from tortoise.exceptions import ValidationError

    too_long = Actor(name="w", scopes=writer.scopes, request_id="r" * 65)
    with pytest.raises(ValidationError):
        event_db_values(event_fields(too_long, "x", target_type="t", target_id="1"))


async def test_recorded_event_is_what_create_returns(database, frozen_clock, writer) -> None:
    arguments = _event_arguments(None)
    recorded = await record_event(writer, "thing.done", **arguments)
    created = await Event.create(actor=writer.name, action="thing.done",
                                 request_id=writer.request_id,
                                 **(arguments | {"target_id": str(arguments["target_id"])}))
    mine, theirs = vars(recorded), vars(created)
    assert set(mine) == set(theirs)
    for attribute in theirs:
        if attribute == "id":
            assert type(mine["id"]) is int and mine["id"] < theirs["id"]
        else:
            assert _same(mine[attribute], theirs[attribute]), attribute


def test_event_fields_refuse_unknown_keywords() -> None:
    import pytest

    from app.services.actor import Actor
    from app.services.common import event_fields

    actor = Actor(name="someone", scopes=frozenset({"write"}))
    assert event_fields(actor, "x.done", target_type="build", target_id=1)["target_id"] == "1"
    with pytest.raises(TypeError, match="targt"):
        event_fields(actor, "x.done", target_type="build", target_id=1, targt="typo")
