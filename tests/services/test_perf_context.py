"""The resume context's hand-written statement answers what the ORM and the rules would.

The reference below reads the same rows through the models and applies the same rules
(app.services.derived, usable artifacts, masking); the service's one statement must agree on
every field, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from app.rest.schemas import ArtifactOut, ResumableStateOut
from app.services import artifacts, builds, context, derived, resume, resumable, variables
from app.services.commands import (
    DefineResumableState,
    RegisterArtifact,
    RequestResume,
    SetVariable,
)
from app.services.crypto import MASK
from app.services.errors import Forbidden, NotFound
from db.models import Artifact, Build, ResumableState, ResumeRequest, StateCode, Variable
from tests import factories as f


def art(name: str, **kw) -> RegisterArtifact:
    data = dict(state_code=20, artifact_name=name, artifact_type="vm_snapshot",
                artifact_path=f"s3://b/{name}")
    return RegisterArtifact(**(data | kw))


async def _reference(build_id, reveal: bool = False) -> dict:
    """The resume context computed the ORM way (what the service did before the statement)."""
    build = await Build.get(id=build_id)
    open_request = await ResumeRequest.get_or_none(
        build_id=build_id, status__in=derived.OPEN_RESUME_STATUSES)
    codes = await StateCode.filter(project_id=build.project_id).order_by("code").values_list(
        "code", flat=True)
    rows = await Artifact.filter(build_id=build_id).order_by("state_code", "created_at")
    found = await Variable.filter(build_id=build_id).order_by("variable_key")
    target = derived.resume_from_state(build, open_request, list(codes))
    config = await ResumableState.get_or_none(project_id=build.project_id, state_code=target)
    now = datetime.now(timezone.utc)
    missing_a, missing_v, reasons = context.missing_requirements(
        config, rows, {v.variable_key for v in found}, now)
    return {
        "resume_from_state": target,
        "artifacts": [a for a in rows if context.usable(a, now)],
        "variables": {v.variable_key: variables.view(v, reveal=reveal).variable_value for v in found},
        "config": config,
        "missing": (missing_a, missing_v),
        "blockers": context.status_blockers(build, open_request) + reasons,
    }


def _same_record(record, model, fields) -> None:
    for name in fields:
        assert getattr(record, name) == getattr(model, name), name


async def _check(build_id, actor, reveal: bool = False) -> context.ResumeContext:
    ctx = await context.get_resume_context(actor=actor, build_id=str(build_id), reveal=reveal)
    ref = await _reference(build_id, reveal)
    assert ctx.resume_from_state == ref["resume_from_state"]
    assert [a.id for a in ctx.artifacts] == [a.id for a in ref["artifacts"]]
    for record, model in zip(ctx.artifacts, ref["artifacts"]):
        _same_record(record, model, ArtifactOut.model_fields)
    assert ctx.variables == ref["variables"]
    if ref["config"] is None:
        assert ctx.resumable_state_config is None
    else:
        _same_record(ctx.resumable_state_config, ref["config"], ResumableStateOut.model_fields)
    assert (ctx.missing_artifacts, ctx.missing_variables) == ref["missing"]
    assert ctx.blockers == ref["blockers"]
    return ctx


def test_records_carry_every_field_the_answers_show() -> None:
    record_fields = {f.name for f in dataclasses.fields(context.ArtifactRecord)}
    assert set(ArtifactOut.model_fields) <= record_fields
    assert record_fields <= set(Artifact._meta.fields_map) | {"build_id"}
    config_fields = {f.name for f in dataclasses.fields(context.ResumableStateRecord)}
    assert set(ResumableStateOut.model_fields) <= config_fields
    assert config_fields <= set(ResumableState._meta.fields_map) | {"project_id"}


async def test_rich_build_matches_the_orm(database, writer, admin) -> None:
    _, b = await f.seed_failed_build(writer, configure=True)  # failed at 35, config for 35
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    future = datetime.now(timezone.utc) + timedelta(days=3)
    await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art(
        "later", state_code=30, expires_at=future, size_bytes=5 * 2**32, checksum="abc",
        metadata={"nested": {"list": [1, 2.5, "x", None, True]}, "unicode": "é✓"}))
    await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art(
        "old", state_code=10, expires_at=past))
    await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art(
        "cfg", artifact_type="config_file", is_resumable=False))
    gone = await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art("gone"))
    await artifacts.delete_artifact(actor=admin, build_id=str(b.id), artifact_id=str(gone.id))
    await variables.set_variable(actor=writer, build_id=str(b.id), command=SetVariable(
        variable_key="db_password", variable_value="hunter2", is_sensitive=True))
    await variables.set_variable(actor=writer, build_id=str(b.id), command=SetVariable(
        variable_key="a_first", variable_value=""))

    ctx = await _check(b.id, writer)
    assert [a.artifact_name for a in ctx.artifacts] == ["rhel9-snapshot-001", "later"]
    assert ctx.variables["db_password"] == MASK
    assert ctx.can_resume and ctx.resume_from_state == 35
    assert ctx.artifacts[1].size_bytes == 5 * 2**32
    assert ctx.artifacts[1].metadata["nested"]["list"] == [1, 2.5, "x", None, True]
    assert ctx.artifacts[0].created_at.tzinfo is not None

    revealed = await _check(b.id, admin, reveal=True)
    assert revealed.variables["db_password"] == "hunter2"
    with pytest.raises(Forbidden):
        await context.get_resume_context(actor=writer, build_id=str(b.id), reveal=True)


async def test_blockers_and_missing_requirements_match(database, writer, admin) -> None:
    project_id, b = await f.seed_failed_build(writer)
    await resumable.define_resumable_state(actor=writer, project_id=project_id, command=(
        DefineResumableState(state_code=35, required_artifacts=["gone", "cfg", "old", "never",
                                                                "config_file"],
                             required_variables=["vm_instance_id", "missing_var"])))
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art(
        "old", expires_at=past))
    await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art(
        "cfg", artifact_type="config_file", is_resumable=False))
    gone = await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art("gone"))
    await artifacts.delete_artifact(actor=admin, build_id=str(b.id), artifact_id=str(gone.id))

    ctx = await _check(b.id, writer)
    assert ctx.missing_artifacts == ["gone", "cfg", "old", "never", "config_file"]
    assert ctx.missing_variables == ["missing_var"]
    assert not ctx.can_resume and len(ctx.blockers) == 6


async def test_open_request_and_running_build(database, writer) -> None:
    _, b = await f.seed_failed_build(writer, configure=True)
    await resume.request_resume(actor=writer, build_id=str(b.id), command=RequestResume(
        resume_from_state=30, resume_reason="retry", requested_by="ops"))
    ctx = await _check(b.id, writer)
    assert ctx.resume_from_state == 30 and ctx.blockers == []

    pid = await f.project(writer)
    running = await f.build(writer, pid)
    await f.move(writer, running.id, 10, "completed")
    running_status = (await Build.get(id=running.id)).status
    ctx = await _check(running.id, writer)
    assert ctx.resume_from_state == 20  # the next state after the last successful one
    assert ctx.blockers == [f"build is {running_status}; only failed or cancelled builds can be resumed"]


async def test_batch_of_builds_and_unknown_ids(database, writer) -> None:
    pid = await f.project(writer, with_states=False)
    made = [await f.build(writer, pid) for _ in range(3)]
    await artifacts.register_artifact(actor=writer, build_id=str(made[1].id), command=art("x"))
    ids = [m.id for m in made]
    got = await context.resume_contexts_by_build_ids(ids + [ids[0]])
    assert set(got) == set(ids)
    assert [len(got[i].artifacts) for i in ids] == [0, 1, 0]
    for i in ids:
        assert got[i].resume_from_state == 0  # no state codes: the current state
        await _check(i, writer)
    assert await context.resume_contexts_by_build_ids([]) == {}
    with pytest.raises(NotFound):
        await context.get_resume_context(actor=writer, build_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound):
        await context.get_resume_context(actor=writer, build_id="not-a-uuid")
    with pytest.raises(NotFound):
        await builds.get_build(actor=writer, build_id="not-a-uuid")


async def test_builds_with_contexts_is_both_reads_in_one(database, writer) -> None:
    """GraphQL's `build(id) { resumeContext }` reads both with one statement: the same build
    rows as builds_by_ids and the same (masked) contexts as resume_contexts_by_build_ids."""
    pid, failed = await f.seed_failed_build(writer, configure=True)
    other = await f.build(writer, pid)
    ids = [failed.id, other.id]
    got = await context.builds_with_contexts(ids + [ids[0], uuid.uuid4()])
    rows = await builds.builds_by_ids(ids)
    contexts = await context.resume_contexts_by_build_ids(ids)
    assert set(got) == set(ids)
    for ident in ids:
        row, found = got[ident]
        assert {c: getattr(row, c) for c in Build._meta.db_fields} == {
            c: getattr(rows[ident], c) for c in Build._meta.db_fields}
        assert found == contexts[ident]
    assert got[failed.id][1].variables  # masked values, as the loader's
    assert await context.builds_with_contexts([]) == {}


# --- The conversions of the read (app/services/context.py: _uuid, _when, _record) ------------


def test_uuid_is_a_plain_uuid_equal_to_the_constructors() -> None:
    import uuid

    text = "df8c80dc-7ee2-43b4-ad0e-2f2f73d0d7a5"
    for form in (text, text.upper(), "{" + text + "}", text.replace("-", ""), "urn:uuid:" + text):
        made = context._uuid(form)
        assert type(made) is uuid.UUID and made == uuid.UUID(form)
        assert hash(made) == hash(uuid.UUID(form)) and made.is_safe is uuid.SafeUUID.unknown
        assert str(made) == text and made.version == 4
    with pytest.raises(TypeError):
        made.foo = 1  # type: ignore[attr-defined]
    # Whatever the text, what UUID() makes of it (or its ValueError).
    for odd in ("zf8c80dc-7ee2-43b4-ad0e-2f2f73d0d7a5", "df8c80dc-7ee2-43b4-ad0e-2f2f73d0d7_5",
                "+f8c80dc-7ee2-43b4-ad0e-2f2f73d0d7a5", "df8c80dc-7ee2-43b4-ad0e-2f2f73d0d7a",
                " f8c80dc-7ee2-43b4-ad0e-2f2f73d0d7a5", "", "{f8c80dc-7ee2-43b4-ad0e-2f2f73d0d7a}",
                "urn:f8c80dc7ee243b4-ad0e-2f2f73d0d7a5", "df8c80dc--7ee243b4ad0e-2f2f73d0d7a5"):
        try:
            expected = uuid.UUID(odd)
        except ValueError:
            with pytest.raises(ValueError):
                context._uuid(odd)
        else:
            assert context._uuid(odd) == expected and type(context._uuid(odd)) is uuid.UUID


def test_when_gives_aware_utc_whatever_the_offset_written() -> None:
    utc = timezone.utc
    instant = datetime(2026, 11, 1, 8, 0, 0, 123456, tzinfo=utc)
    for text in ("2026-11-01T08:00:00.123456+00:00", "2026-11-01T09:00:00.123456+01:00",
                 "2026-11-01T03:00:00.123456-05:00", "2026-11-01 08:00:00.123456",
                 "2026-11-01T08:00:00.123456Z", "2026-11-01T13:30:00.123456+05:30"):
        moment = context._when(text)
        assert moment == instant and moment.tzinfo is utc, text
    assert context._when(None) is None


def _row_with_offsets(row: dict, shift: str) -> dict:
    """The statement's row as a session in another TimeZone would write it (same instants)."""
    import json

    def moved(value):
        if isinstance(value, str) and value.endswith("+00:00") and value[10] in "T ":
            moment = datetime.fromisoformat(value).astimezone(
                timezone(timedelta(hours=int(shift)))
            )
            return moment.isoformat()
        if isinstance(value, list):
            return [moved(v) for v in value]
        return value

    out = dict(row)
    for column in ("configs", "artifacts", "other_artifacts"):
        if isinstance(row[column], str):
            out[column] = json.dumps(moved(json.loads(row[column])))
    return out


async def test_records_hold_plain_uuids_and_utc_datetimes(database, writer, backend) -> None:
    import uuid

    _, b = await f.seed_failed_build(writer, configure=True)
    future = datetime.now(timezone.utc) + timedelta(days=3)
    await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art(
        "later", state_code=30, expires_at=future))
    ctx = await _check(b.id, writer)
    assert len(ctx.artifacts) == 2 and ctx.resumable_state_config is not None
    for record in [*ctx.artifacts, ctx.resumable_state_config]:
        assert type(record.id) is uuid.UUID
        for name in ("created_at", "updated_at", "expires_at", "deleted_at"):
            value = getattr(record, name, None)
            assert value is None or value.tzinfo is timezone.utc, name
        # Read-only, as the frozen __init__ would make them.
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.id = uuid.uuid4()  # type: ignore[misc]
        # Built without __init__, the same as built with it (fields, order, equality).
        rebuilt = type(record)(**{f.name: getattr(record, f.name)
                                  for f in dataclasses.fields(record)})
        assert rebuilt == record and list(vars(record)) == list(vars(rebuilt))
    assert type(ctx.build_id) is uuid.UUID
    assert ctx.artifacts[1].expires_at == future

    # Another session TimeZone (PostgreSQL writes a timestamptz's JSON in it), or SQLite text
    # with another offset: the same instants, in UTC.
    db = Build._meta.db
    dialect = db.capabilities.dialect
    if dialect == "postgres":
        rows = await db.execute_query_dict(context._statement(dialect, 0), [[b.id]])
    else:
        rows = await db.execute_query_dict(context._statement(dialect, 1), [str(b.id)])
    now = datetime.now(timezone.utc)
    plain = context._context(rows[0], False, now, backend == "sqlite")
    for shift in ("2", "-7"):
        moved = _row_with_offsets(rows[0], shift)
        assert moved["artifacts"] != rows[0]["artifacts"]  # the offsets did change
        other = context._context(moved, False, now, backend == "sqlite")
        assert other == plain
        for record in [*other.artifacts, other.resumable_state_config]:
            assert record.created_at.tzinfo is timezone.utc
