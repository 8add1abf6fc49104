"""registerArtifact's fast path on PostgreSQL (ONE statement: the build check, the artifact, its
event row and the NOTIFY, in autocommit or in the caller's transaction) writes what the ORM path
writes, on both databases: the row, its event row (column for column what `record_event`
writes), the refusals (unknown build, duplicate live name), a caller's transaction (the write is
on its connection: invisible to others until it commits, gone with its rollback, usable after a
refusal), and the NOTIFY payload (the event id)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.rest.schemas import ArtifactOut
from app.services import artifacts, live
from app.services.common import record_event
from app.services.commands import RegisterArtifact
from app.services.errors import Conflict, NotFound
from db.models import Artifact, Event
from tests import factories as f
from tests.services.test_write_values import COMMANDS, _same, frozen_clock  # noqa: F401
from tests.conftest import PG_ADMIN_DSN

_COLUMNS = tuple(ArtifactOut.model_fields) + ("deleted_reason", "storage_deleted_at")
# Every column of both rows, by attribute name (the foreign key by its build_id).
_ALL_ARTIFACT = tuple(Artifact._meta.fields_db_projection)
_ALL_EVENT = tuple(Event._meta.fields_db_projection)


def _command(name: str) -> RegisterArtifact:
    return RegisterArtifact(
        state_code=30, artifact_name=name, artifact_type="disk_image", artifact_path=f"s3://b/{name}",
        storage_backend="s3", storage_region="eu-west-1", storage_bucket="b", storage_key=name,
        size_bytes=3 * 2**40, checksum="c0ffee", checksum_algorithm="sha512", is_resumable=False,
        is_final=True,
        expires_at=datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2))),
        metadata={"float": 0.1, "unicode": "Zürich ✓", "nested": [{"a": None}], "big": 2**62},
    )


async def _event_seq() -> tuple:
    if connections.get("default").capabilities.dialect != "postgres":
        return ()
    _, rows = await connections.get("default").execute_query(
        'SELECT last_value, is_called FROM "events_id_seq"')
    return tuple(rows[0])


async def test_the_row_and_its_event_are_what_the_orm_writes(database, writer) -> None:
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    returned = await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                                 command=_command("fast"))
    stored = await Artifact.get(id=returned.id)
    for column in _COLUMNS:
        assert getattr(returned, column) == getattr(stored, column), column
    assert returned.expires_at == _command("x").expires_at
    assert returned.expires_at.utcoffset() == timedelta(0)
    assert returned.created_at.utcoffset() == timedelta(0)
    assert (returned.version, returned.deleted_at, returned.metadata["big"]) == (1, None, 2**62)

    # The ORM's own insert of the same command, for comparison.
    reference = await Artifact.create(build_id=build.id, **_command("orm").model_dump())
    reference = await Artifact.get(id=reference.id)
    for column in _COLUMNS:
        if column not in ("id", "artifact_name", "artifact_path", "storage_key", "created_at",
                          "updated_at"):
            assert getattr(stored, column) == getattr(reference, column), column

    events = await Event.filter(target_id=str(returned.id))
    assert len(events) == 1
    event = events[0]
    assert (event.action, event.target_type, event.project_id, event.build_id, event.actor,
            event.request_id, event.reason) == (
        "artifact.registered", "artifact", pid, build.id, writer.name, writer.request_id, None)
    assert event.data == {"after": {"artifact_name": "fast", "artifact_type": "disk_image",
                                    "state_code": 30, "artifact_path": "s3://b/fast"}}
    assert abs((event.created_at - stored.created_at).total_seconds()) < 5


_EVENT_FIELDS = tuple(c for c in Event._meta.fields_map if c not in ("id", "created_at"))


async def test_the_event_row_is_what_record_event_writes(database, writer) -> None:
    """Every column but id and created_at, against the row `record_event` writes for the same
    change (the ORM's `Event.create` on SQLite, its own statement on PostgreSQL) and against the
    ORM's `Event.create` itself."""
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    command = _command("evented")
    returned = await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                                 command=command)
    (fast,) = await Event.filter(target_id=str(returned.id))
    arguments = dict(
        target_type="artifact", target_id=returned.id, project_id=pid, build_id=build.id,
        data={"after": {"artifact_name": command.artifact_name,
                        "artifact_type": command.artifact_type,
                        "state_code": command.state_code,
                        "artifact_path": command.artifact_path}},
    )
    async with in_transaction():
        recorded = await record_event(writer, "artifact.registered", **arguments)
    created = await Event.create(actor=writer.name, action="artifact.registered",
                                 request_id=writer.request_id, **(arguments | {
                                     "target_id": str(returned.id)}))
    for reference in (await Event.get(id=recorded.id), await Event.get(id=created.id)):
        for column in _EVENT_FIELDS:
            assert getattr(fast, column) == getattr(reference, column), column
        assert type(fast.data) is type(reference.data) and fast.build_id == build.id
    assert fast.id < recorded.id
    assert fast.created_at.utcoffset() == timedelta(0)


async def test_a_callers_transaction_holds_the_write(database, backend, writer) -> None:
    """Inside an open transaction the statement runs on its connection: another connection does
    not see the rows before the commit (PostgreSQL), and a rollback takes them back."""
    pid = await f.project(writer)
    build = await f.build(writer, pid)

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with in_transaction():
            row = await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                                    command=_command("undone"))
            assert await Artifact.filter(id=row.id).count() == 1  # the transaction sees it
            raise Undo
    assert await Artifact.filter(id=row.id).count() == 0
    assert await Event.filter(target_id=str(row.id)).count() == 0

    if backend != "postgres":
        return
    name = database.database_url.rsplit("/", 1)[1].split("?")[0]
    other = await asyncpg.connect(PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name)
    try:
        async with in_transaction():
            row = await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                                    command=_command("held"))
            seen = await other.fetchval(
                'SELECT count(*) FROM "build_artifacts" WHERE "id" = $1', row.id)
            assert seen == 0  # not autocommitted: it is the open transaction's
        assert await other.fetchval(
            'SELECT count(*) FROM "build_artifacts" WHERE "id" = $1', row.id) == 1
        assert await other.fetchval(
            'SELECT count(*) FROM "events" WHERE "target_id" = $1', str(row.id)) == 1
    finally:
        await other.close()


async def test_defaults_apply_as_in_the_orm(database, writer) -> None:
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    returned = await artifacts.register_artifact(actor=writer, build_id=str(build.id), command=RegisterArtifact(
        state_code=10, artifact_name="plain", artifact_type="ami", artifact_path="ami-1"))
    stored = await Artifact.get(id=returned.id)
    for column in _COLUMNS:
        assert getattr(returned, column) == getattr(stored, column), column
    assert (stored.checksum_algorithm, stored.is_resumable, stored.is_final, stored.metadata,
            stored.size_bytes, stored.expires_at) == ("sha256", True, False, {}, None, None)


async def test_refusals_write_nothing_and_consume_no_event_id(database, writer) -> None:
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    first = await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                              command=_command("dup"))
    artifacts_before, events_before, seq_before = (
        await Artifact.all().count(), await Event.all().count(), await _event_seq())

    with pytest.raises(Conflict) as refused:
        await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                          command=_command("dup"))
    assert refused.value.details["existing_id"] == str(first.id)
    assert str(first.id) in refused.value.message
    for unknown in (str(uuid.uuid4()), "not-a-uuid"):
        with pytest.raises(NotFound) as missing:
            await artifacts.register_artifact(actor=writer, build_id=unknown, command=_command("x"))
        assert missing.value.message == f"build '{unknown}' not found"

    assert (await Artifact.all().count(), await Event.all().count(), await _event_seq()) == (
        artifacts_before, events_before, seq_before)


async def test_inside_a_callers_transaction_a_refusal_leaves_it_usable(database, writer) -> None:
    """As under an Idempotency-Key: the duplicate is refused (409 naming the existing id, which
    needs a query after the failure) and the caller's transaction goes on."""
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    first = await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                              command=_command("taken"))
    async with in_transaction():
        with pytest.raises(Conflict) as refused:
            await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                              command=_command("taken"))
        assert refused.value.details["existing_id"] == str(first.id)
        other = await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                                  command=_command("free"))
    assert await Artifact.get(id=other.id)
    assert await Event.filter(target_id=str(other.id), action="artifact.registered").count() == 1


async def test_notify_payload_is_the_event_id(database, backend, writer) -> None:
    if backend != "postgres":
        pytest.skip("NOTIFY is PostgreSQL's")
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    heard: asyncio.Queue[str] = asyncio.Queue()
    name = database.database_url.rsplit("/", 1)[1].split("?")[0]
    conn = await asyncpg.connect(PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name)
    await conn.add_listener(live.CHANNEL, lambda *args: heard.put_nowait(args[-1]))
    try:
        row = await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                                command=_command("heard"))
        event = await Event.get(target_id=str(row.id))
        assert await asyncio.wait_for(heard.get(), 5) == str(event.id)
        with pytest.raises(Conflict):
            await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                              command=_command("heard"))
        await asyncio.sleep(0.3)
        assert heard.empty()  # nothing for the refused one
    finally:
        await conn.close()


@pytest.mark.parametrize("name", COMMANDS)
async def test_every_column_of_both_rows_is_the_orms(database, frozen_clock, writer,
                                                     name) -> None:
    """Each input (all optional fields, none, edge values, other zones and JSON) registered by
    the service and by the ORM path (`Artifact.create` + `record_event` in a transaction, what
    SQLite runs) into two builds of one project, at the same frozen instant: read back, every
    column of the artifact and of its event is equal and of the same type, but the ids and what
    names the build."""
    pid = await f.project(writer, with_states=False)
    fast_build, orm_build = await f.build(writer, pid), await f.build(writer, pid)
    command = RegisterArtifact.model_validate(COMMANDS[name])
    fast = await artifacts.register_artifact(actor=writer, build_id=str(fast_build.id),
                                             command=command)
    async with in_transaction():
        orm = await Artifact.create(build_id=orm_build.id, **command.model_dump())
        await record_event(writer, "artifact.registered", target_type="artifact",
                           target_id=orm.id, project_id=pid, build_id=orm_build.id,
                           data=artifacts._registered_data(orm))
    stored, reference = await Artifact.get(id=fast.id), await Artifact.get(id=orm.id)
    for column in _ALL_ARTIFACT:
        if column not in ("id", "build_id"):
            assert _same(getattr(stored, column), getattr(reference, column)), column
            assert _same(getattr(fast, column), getattr(orm, column)), column
    assert (stored.build_id, reference.build_id) == (fast_build.id, orm_build.id)
    (fast_event,) = await Event.filter(target_id=str(fast.id))
    (orm_event,) = await Event.filter(target_id=str(orm.id))
    for column in _ALL_EVENT:
        if column not in ("id", "target_id", "build_id"):
            assert _same(getattr(fast_event, column), getattr(orm_event, column)), column
    assert (fast_event.build_id, orm_event.build_id) == (fast_build.id, orm_build.id)
    assert isinstance(fast_event.build_id, uuid.UUID) and fast_event.created_at == stored.created_at


async def test_a_build_gone_meanwhile_is_not_found(database, writer) -> None:
    """The foreign key's refusal (the build deleted between the write's look-up and its INSERT,
    e.g. with its project) is NotFound, not a Conflict or a 500: a real FK violation from the
    database, classified as the write classifies it, on both backends."""
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    gone = uuid.uuid4()
    with pytest.raises(IntegrityError) as refused:
        await Artifact.create(build_id=gone, state_code=20, artifact_name="orphan",
                              artifact_type="vm_snapshot", artifact_path="s3://b/orphan")
    answer = await artifacts._refusal(refused.value, gone, str(gone), "orphan")
    assert isinstance(answer, NotFound)
    assert answer.message == f"build '{gone}' not found"
    # A taken name on a live build is still the Conflict naming the existing artifact.
    first = await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                              command=_command("taken"))
    with pytest.raises(IntegrityError) as taken:
        await Artifact.create(build_id=build.id, state_code=20, artifact_name="taken",
                              artifact_type="vm_snapshot", artifact_path="s3://b/taken")
    answer = await artifacts._refusal(taken.value, build.id, str(build.id), "taken")
    assert isinstance(answer, Conflict) and answer.details["existing_id"] == str(first.id)
