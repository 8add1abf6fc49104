"""Resume requests: preconditions, one open per build, the status machine, overrides."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.services import artifacts, context, jobs, resume, variables
from app.services.commands import LinkJob, RegisterArtifact, RequestResume, SetVariable, UpdateArtifact, UpdateJob, UpdateResumeRequest
from app.services.crypto import MASK
from app.services.errors import Conflict, InvalidTransition, NotResumable, ValidationFailed
from db.models import Artifact, Event, ResumeRequest, Variable
from tests import factories as f


async def test_one_open_request_per_build(database, writer):
    _, b = await f.seed_failed_build(writer)
    first = await resume.request_resume(actor=writer, build_id=str(b.id),
                                        command=RequestResume(resume_reason="first"))
    with pytest.raises(Conflict) as err:
        await resume.request_resume(actor=writer, build_id=str(b.id),
                                    command=RequestResume(resume_reason="second"))
    assert err.value.details["existing_id"] == str(first.id)
    assert await ResumeRequest.filter(build_id=b.id).count() == 1


async def test_only_failed_or_cancelled_builds_can_be_resumed(database, writer):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    await f.move(writer, b.id, 10, "in_progress")
    with pytest.raises(InvalidTransition):
        await resume.request_resume(actor=writer, build_id=str(b.id),
                                    command=RequestResume(resume_reason="x"))


async def test_reason_is_required(database, writer):
    with pytest.raises(ValueError):
        RequestResume(resume_reason="")
    _, b = await f.seed_failed_build(writer)
    with pytest.raises(ValidationFailed):
        await resume.request_resume(actor=writer, build_id=str(b.id),
                                    command=RequestResume.model_construct(resume_reason="   ",
                                        variable_overrides={}, metadata={}))


async def test_any_state_up_to_the_failed_one(database, writer):
    _, b = await f.seed_failed_build(writer)
    with pytest.raises(ValidationFailed) as err:
        await resume.request_resume(actor=writer, build_id=str(b.id),
                                    command=RequestResume(resume_from_state=40, resume_reason="x"))
    assert err.value.details["field"] == "resume_from_state"
    with pytest.raises(ValidationFailed):  # not a state of the project
        await resume.request_resume(actor=writer, build_id=str(b.id),
                                    command=RequestResume(resume_from_state=21, resume_reason="x"))
    req = await resume.request_resume(actor=writer, build_id=str(b.id),
                                      command=RequestResume(resume_from_state=20, resume_reason="redo"))
    assert req.resume_from_state == 20
    ctx = await context.get_resume_context(actor=writer, build_id=str(b.id))
    assert ctx.resume_from_state == 20  # the open request decides


async def test_missing_deleted_and_expired_requirements_are_listed(database, writer, admin):
    pid, b = await f.seed_failed_build(writer, configure=True)
    snap = (await Artifact.filter(build_id=b.id))[0]
    await artifacts.delete_artifact(actor=admin, build_id=str(b.id), artifact_id=str(snap.id))
    await variables.delete_variable(actor=writer, build_id=str(b.id), key="vm_instance_id")
    with pytest.raises(NotResumable) as err:
        await resume.request_resume(actor=writer, build_id=str(b.id),
                                    command=RequestResume(resume_reason="x"))
    assert err.value.details["missing_artifacts"] == ["rhel9-snapshot-001"]
    assert err.value.details["missing_variables"] == ["vm_instance_id"]
    assert any("was deleted" in r for r in err.value.details["reasons"])
    ctx = await context.get_resume_context(actor=writer, build_id=str(b.id))
    assert not ctx.can_resume and ctx.missing_variables == ["vm_instance_id"]
    # An expired artifact counts as missing too.
    past = datetime.now(timezone.utc) - timedelta(minutes=1)
    new = await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=RegisterArtifact(
        state_code=20, artifact_name="rhel9-snapshot-001", artifact_type="vm_snapshot",
        artifact_path="s3://x", expires_at=past))
    with pytest.raises(NotResumable) as err:
        await resume.request_resume(actor=writer, build_id=str(b.id), command=RequestResume(
            resume_reason="x", variable_overrides={"vm_instance_id": "i-new"}))
    assert err.value.details["missing_artifacts"] == ["rhel9-snapshot-001"]
    assert err.value.details["missing_variables"] == []  # the override supplies it
    assert any("expired" in r for r in err.value.details["reasons"])
    # Nothing was written by the refused requests (the override was rolled back).
    assert not await Variable.exists(build_id=b.id, variable_key="vm_instance_id")
    assert await ResumeRequest.filter(build_id=b.id).count() == 0
    await artifacts.update_artifact(actor=writer, build_id=str(b.id), artifact_id=str(new.id),
                                    command=UpdateArtifact(expires_at=past + timedelta(days=1)))
    req = await resume.request_resume(actor=writer, build_id=str(b.id), command=RequestResume(
        resume_reason="fixed", variable_overrides={"vm_instance_id": "i-new"}))
    assert req.variable_changes == [{"key": "vm_instance_id", "old": None, "new": "i-new"}]


async def test_not_resumable_state(database, writer):
    from app.services import resumable
    from app.services.commands import DefineResumableState

    pid, b = await f.seed_failed_build(writer)
    await resumable.define_resumable_state(actor=writer, project_id=pid,
                                           command=DefineResumableState(state_code=35, is_resumable=False))
    with pytest.raises(NotResumable) as err:
        await resume.request_resume(actor=writer, build_id=str(b.id),
                                    command=RequestResume(resume_reason="x"))
    assert "not resumable" in err.value.message


async def test_overrides_are_applied_and_recorded_masked(database, writer):
    _, b = await f.seed_failed_build(writer)
    await variables.set_variable(actor=writer, build_id=str(b.id), command=SetVariable(
        variable_key="api_token", variable_value="old-secret", is_sensitive=True))
    req = await resume.request_resume(actor=writer, build_id=str(b.id), command=RequestResume(
        resume_reason="new vm", variable_overrides={"vm_instance_id": "i-999", "api_token": "new-secret"}))
    changes = {c["key"]: c for c in req.variable_changes}
    assert changes["vm_instance_id"] == {"key": "vm_instance_id", "old": "i-0123456789abcdef", "new": "i-999"}
    assert changes["api_token"] == {"key": "api_token", "old": MASK, "new": MASK}
    got = await variables.get_variable(actor=writer, build_id=str(b.id), key="vm_instance_id")
    assert got.variable_value == "i-999"
    event = await Event.get(build_id=b.id, action="resume.requested")
    assert event.reason == "new vm" and event.actor == "writer"
    assert "new-secret" not in str(event.data) and "old-secret" not in str(event.data)


async def test_status_machine(database, writer):
    _, b = await f.seed_failed_build(writer)
    req = await resume.request_resume(actor=writer, build_id=str(b.id),
                                      command=RequestResume(resume_reason="x"))

    async def move(status):
        return await resume.update_resume_request(actor=writer, request_id=str(req.id),
                                                  command=UpdateResumeRequest(status=status))

    with pytest.raises(InvalidTransition):
        await move("completed")  # pending -> completed is not a move of the machine
    r = await move("triggered")
    assert r.triggered_at is not None
    r = await move("running")
    with pytest.raises(InvalidTransition):
        await move("cancelled")  # running can only complete or fail
    r = await move("failed")
    assert r.completed_at is not None
    with pytest.raises(InvalidTransition):
        await move("running")
    # The failed request is closed: a new one may be filed.
    await resume.request_resume(actor=writer, build_id=str(b.id),
                                command=RequestResume(resume_reason="again"))


async def test_cancelled_build_can_be_resumed(database, writer):
    from app.services import builds

    pid = await f.project(writer)
    b = await f.build(writer, pid)
    await f.move(writer, b.id, 10)
    await builds.cancel_build(actor=writer, build_id=str(b.id))
    req = await resume.request_resume(actor=writer, build_id=str(b.id),
                                      command=RequestResume(resume_reason="un-cancel"))
    assert req.resume_from_state == 20  # the state after the last successful one


async def test_resume_jobs_link_to_request_and_parent(database, writer):
    _, b = await f.seed_failed_build(writer)
    parent = await jobs.link_job(actor=writer, build_id=str(b.id), command=LinkJob(
        platform="jenkins", job_name="rhel9", build_number=41, status="failed"))
    req = await resume.request_resume(actor=writer, build_id=str(b.id),
                                      command=RequestResume(resume_reason="x"))
    child = await jobs.link_job(actor=writer, build_id=str(b.id), command=LinkJob(
        platform="jenkins", job_name="rhel9", build_number="42", trigger_source="resume",
        parent_job_id=str(parent.id), resume_request_id=str(req.id), status="running"))
    assert child.is_resume_job and child.resumed_from_state == 35 and child.started_at
    assert child.parent_job_id == parent.id and child.build_number == "42"
    done = await jobs.update_job(actor=writer, build_id=str(b.id), job_id=str(child.id),
                                 command=UpdateJob(status="success"))
    assert done.completed_at is not None
    with pytest.raises(InvalidTransition):
        await jobs.update_job(actor=writer, build_id=str(b.id), job_id=str(child.id),
                              command=UpdateJob(status="running"))
    with pytest.raises(ValidationFailed):
        await jobs.link_job(actor=writer, build_id=str(b.id), command=LinkJob(
            platform="jenkins", parent_job_id="not-a-uuid"))
