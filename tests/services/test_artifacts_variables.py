"""Artifacts and variables: uniqueness, soft delete, upsert semantics, encryption and masking."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.services import artifacts, context, variables
from app.services.commands import RegisterArtifact, SetVariable, UpdateArtifact, UpdateVariable
from app.services.crypto import MASK
from app.services.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from db.models import Artifact, Event, Variable
from tests import factories as f


def art(name: str, **kw) -> RegisterArtifact:
    data = dict(state_code=20, artifact_name=name, artifact_type="vm_snapshot",
                artifact_path=f"s3://b/{name}")
    data.update(kw)
    return RegisterArtifact(**data)


async def test_duplicate_live_name_is_a_conflict_naming_the_existing_id(database, writer, admin):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    first = await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art("snap"))
    with pytest.raises(Conflict) as err:
        await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art("snap"))
    assert err.value.details["existing_id"] == str(first.id)
    assert str(first.id) in err.value.message
    assert await Artifact.filter(build_id=b.id).count() == 1
    # Once soft-deleted, the name is free again; the old row stays for the audit trail.
    with pytest.raises(Forbidden):
        await artifacts.delete_artifact(actor=writer, build_id=str(b.id), artifact_id=str(first.id))
    await artifacts.delete_artifact(actor=admin, build_id=str(b.id), artifact_id=str(first.id))
    second = await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art("snap"))
    assert second.id != first.id
    assert await Artifact.filter(build_id=b.id).count() == 2
    listed = await artifacts.list_artifacts(actor=writer, build_id=str(b.id),
                                            filter=artifacts.ArtifactFilter())
    assert [a.id for a in listed] == [second.id]
    with pytest.raises(NotFound):
        await artifacts.get_artifact(actor=writer, build_id=str(b.id), artifact_id=str(first.id))


async def test_same_name_in_two_builds_is_fine(database, writer):
    pid = await f.project(writer)
    b1, b2 = await f.build(writer, pid), await f.build(writer, pid)
    await artifacts.register_artifact(actor=writer, build_id=str(b1.id), command=art("x"))
    await artifacts.register_artifact(actor=writer, build_id=str(b2.id), command=art("x"))


async def test_filters_and_update_with_version(database, writer):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art("a", state_code=10))
    a2 = await artifacts.register_artifact(
        actor=writer, build_id=str(b.id),
        command=art("b", artifact_type="ami", is_final=True, is_resumable=False))
    flt = artifacts.ArtifactFilter(artifact_type="ami")
    assert [a.artifact_name for a in await artifacts.list_artifacts(
        actor=writer, build_id=str(b.id), filter=flt)] == ["b"]
    flt = artifacts.ArtifactFilter(state_code=10)
    assert [a.artifact_name for a in await artifacts.list_artifacts(
        actor=writer, build_id=str(b.id), filter=flt)] == ["a"]
    updated = await artifacts.update_artifact(
        actor=writer, build_id=str(b.id), artifact_id=str(a2.id),
        command=UpdateArtifact(metadata={"k": "v"}), expected_version=1)
    assert updated.metadata == {"k": "v"} and updated.version == 2
    with pytest.raises(PreconditionFailed):
        await artifacts.update_artifact(
            actor=writer, build_id=str(b.id), artifact_id=str(a2.id),
            command=UpdateArtifact(checksum="x"), expected_version=1)
    with pytest.raises(Conflict):
        await artifacts.update_artifact(actor=writer, build_id=str(b.id), artifact_id=str(a2.id),
                                        command=UpdateArtifact(artifact_name="a"))


async def test_expired_and_unresumable_artifacts_are_not_in_the_context(database, writer):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art("old", expires_at=past))
    await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art("cfg", is_resumable=False))
    await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art("ok", state_code=10))
    ctx = await context.get_resume_context(actor=writer, build_id=str(b.id))
    assert [a.artifact_name for a in ctx.artifacts] == ["ok"]


async def test_variable_upsert_keeps_flags_not_given(database, writer):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    r1 = await variables.set_variable(actor=writer, build_id=str(b.id), command=SetVariable(
        variable_key="vpc_id", variable_value="vpc-1", set_at_state=10, is_required_for_resume=True))
    assert r1.created and r1.variable.is_required_for_resume
    r2 = await variables.set_variable(actor=writer, build_id=str(b.id), command=SetVariable(
        variable_key="vpc_id", variable_value="vpc-2"))
    assert not r2.created
    assert (r2.variable.variable_value, r2.variable.is_required_for_resume, r2.variable.set_at_state) == (
        "vpc-2", True, 10)
    assert await Variable.filter(build_id=b.id).count() == 1
    events = await Event.filter(build_id=b.id, action="variable.set").order_by("id")
    assert [e.data["after"]["value"] for e in events] == ["vpc-1", "vpc-2"]
    assert events[1].data["before"]["value"] == "vpc-1"


async def test_sensitive_values_are_encrypted_at_rest_and_masked(database, writer, admin):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    await variables.set_variable(actor=writer, build_id=str(b.id), command=SetVariable(
        variable_key="db_password", variable_value="hunter2", is_sensitive=True))
    row = await Variable.get(build_id=b.id, variable_key="db_password")
    assert "hunter2" not in row.variable_value  # ciphertext at rest
    got = await variables.get_variable(actor=writer, build_id=str(b.id), key="db_password")
    assert got.variable_value == MASK
    assert (await context.get_resume_context(actor=admin, build_id=str(b.id))).variables == {
        "db_password": MASK}
    with pytest.raises(Forbidden):
        await variables.get_variable(actor=writer, build_id=str(b.id), key="db_password", reveal=True)
    revealed = await variables.get_variable(actor=admin, build_id=str(b.id), key="db_password",
                                            reveal=True)
    assert revealed.variable_value == "hunter2"
    audit = await Event.filter(build_id=b.id, action="variable.revealed")
    assert len(audit) == 1 and audit[0].actor == "admin"
    # No event stores the secret.
    for event in await Event.filter(build_id=b.id):
        assert "hunter2" not in str(event.data)
    # Updating keeps the value encrypted; switching it off decrypts it.
    await variables.update_variable(actor=writer, build_id=str(b.id), key="db_password",
                                    command=UpdateVariable(variable_value="s3cret"))
    assert "s3cret" not in (await Variable.get(build_id=b.id, variable_key="db_password")).variable_value
    plain = await variables.update_variable(actor=writer, build_id=str(b.id), key="db_password",
                                            command=UpdateVariable(is_sensitive=False))
    assert plain.variable_value == "s3cret"


async def test_encrypted_type_implies_sensitive(database, writer):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    res = await variables.set_variable(actor=writer, build_id=str(b.id), command=SetVariable(
        variable_key="token", variable_value="abc", variable_type="encrypted"))
    assert res.variable.is_sensitive and res.variable.variable_value == MASK


async def test_variable_update_and_delete_unknown_key(database, writer):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    with pytest.raises(NotFound):
        await variables.update_variable(actor=writer, build_id=str(b.id), key="nope",
                                        command=UpdateVariable(variable_value="x"))
    with pytest.raises(NotFound):
        await variables.delete_variable(actor=writer, build_id=str(b.id), key="nope")
