"""Every write path of the services leaves exactly one event: the right actor, action and
request id, values masked. The walk at the end fails when a write function is not covered."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from datetime import timedelta

import app.services
from app.services import (
    artifacts, builds, cleanup, context, jobs, keys, projects, resumable, resume, variables,
)
from app.services.commands import (
    CreateBuild, CreateProject, DefineResumableState, DefineStateCode, LinkJob, RecordFailure,
    RegisterArtifact, RequestResume, SetVariable, TransitionBuild, UpdateArtifact, UpdateJob,
    UpdateProject, UpdateResumableState, UpdateResumeRequest, UpdateVariable,
)
from app.services.common import utcnow
from app.services.crypto import MASK
from db.models import Artifact, Event
from tests.conftest import unique

SECRET, NEW_SECRET = "s3cr3t-value-81724", "n3w-s3cr3t-55190"
WRITE_PREFIXES = ("create_", "update_", "delete_", "set_", "record_", "transition_", "cancel_",
                  "register_", "link_", "request_", "define_", "revoke_", "run_")
# Owned and tested elsewhere (the orchestrator's bookkeeping rows are not audit events; nor
# are idempotency keys: `run_once` stores a request's answer, the work it wraps writes events).
OTHER_OWNERS = {"orchestration", "webhooks", "idempotency"}


async def _top() -> int:
    return (await Event.all().order_by("-id").first().values_list("id", flat=True)) or 0


class Recorder:
    def __init__(self) -> None:
        self.covered: set[str] = set()
        self.all: list[Event] = []

    async def one(self, call, actor, action: str, *, target_type: str | None = None) -> tuple[object, Event]:
        """Run one service call; exactly one event appears, written by this actor."""
        before = await _top()
        result = await call
        events = await Event.filter(id__gt=before).order_by("id")
        assert [e.action for e in events] == [action], [e.action for e in events]
        event = events[0]
        assert event.actor == actor.name
        assert event.request_id == actor.request_id
        if target_type:
            assert event.target_type == target_type
        self.covered.add(call.cr_code.co_name)
        self.all.append(event)
        return result, event

    async def several(self, call, actor, actions: list[str]) -> list[Event]:
        """A call that changes several things writes one event per change, no more."""
        before = await _top()
        await call
        events = await Event.filter(id__gt=before).order_by("id")
        assert sorted(e.action for e in events) == sorted(actions)
        assert len({(e.action, e.target_id) for e in events}) == len(events)
        assert all(e.actor == actor.name and e.request_id == actor.request_id for e in events)
        self.covered.add(call.cr_code.co_name)
        self.all.extend(events)
        return events


def _dump(event: Event) -> str:
    return json.dumps({"data": event.data, "reason": event.reason})


async def test_every_write_path_leaves_one_event(database, writer, admin):
    rec = Recorder()
    pid = unique("audit")

    # Projects, state codes, resumable states.
    await rec.one(projects.create_project(actor=writer, command=CreateProject(id=pid, name=pid)),
                  writer, "project.created", target_type="project")
    _, e = await rec.one(projects.update_project(
        actor=writer, project_id=pid, command=UpdateProject(description="VM images")),
        writer, "project.updated")
    assert e.data == {"before": {"description": None}, "after": {"description": "VM images"}}
    for code in (10, 20, 30, 100):
        await rec.one(projects.define_state_code(
            actor=writer, project_id=pid,
            command=DefineStateCode(code=code, name=f"s{code}", is_final=code == 100)),
            writer, "state_code.defined")
    await rec.one(resumable.define_resumable_state(
        actor=writer, project_id=pid, command=DefineResumableState(state_code=20)),
        writer, "resumable_state.defined")
    await rec.one(resumable.update_resumable_state(
        actor=writer, project_id=pid, state_code=20, command=UpdateResumableState(notes="rerun")),
        writer, "resumable_state.updated")

    # A build and its state machine.
    b, _ = await rec.one(builds.create_build(
        actor=writer, command=CreateBuild(project_id=pid, build_number=1)),
        writer, "build.created", target_type="build")
    bid = str(b.id)
    _, e = await rec.one(builds.transition_build(
        actor=writer, build_id=bid, command=TransitionBuild(state_code=10, status="completed")),
        writer, "build.state_changed")
    assert e.data["before"] == {"status": "pending", "current_state": 0}
    assert e.data["after"] == {"status": "running", "current_state": 10}

    # Artifacts.
    a, _ = await rec.one(artifacts.register_artifact(
        actor=writer, build_id=bid, command=RegisterArtifact(
            state_code=10, artifact_name="disk", artifact_type="disk_image", artifact_path="/x")),
        writer, "artifact.registered", target_type="artifact")
    await rec.one(artifacts.update_artifact(
        actor=writer, build_id=bid, artifact_id=str(a.id), command=UpdateArtifact(size_bytes=5)),
        writer, "artifact.updated")
    await rec.one(artifacts.delete_artifact(actor=admin, build_id=bid, artifact_id=str(a.id)),
                  admin, "artifact.deleted")

    # Variables: plain and sensitive; reveals are audited, once per call.
    await rec.one(variables.set_variable(
        actor=writer, build_id=bid, command=SetVariable(variable_key="vm_id", variable_value="i-1")),
        writer, "variable.set", target_type="variable")
    _, e = await rec.one(variables.set_variable(
        actor=writer, build_id=bid,
        command=SetVariable(variable_key="db_password", variable_value=SECRET, is_sensitive=True)),
        writer, "variable.set")
    assert e.data["after"] == {"value": MASK}
    _, e = await rec.one(variables.update_variable(
        actor=writer, build_id=bid, key="db_password", command=UpdateVariable(variable_value=NEW_SECRET)),
        writer, "variable.updated")
    assert e.data["before"] == {"value": MASK} and e.data["after"] == {"value": MASK}
    await rec.one(variables.get_variable(actor=admin, build_id=bid, key="db_password", reveal=True),
                  admin, "variable.revealed")
    await rec.one(variables.list_variables(actor=admin, build_id=bid, reveal=True),
                  admin, "variable.revealed")
    await rec.one(context.get_resume_context(actor=admin, build_id=bid, reveal=True),
                  admin, "variable.revealed")
    await variables.set_variable(actor=writer, build_id=bid, command=SetVariable(
        variable_key="token", variable_value=SECRET, is_sensitive=True))
    _, e = await rec.one(variables.delete_variable(actor=writer, build_id=bid, key="token"),
                         writer, "variable.deleted")
    assert e.data["before"] == {"value": MASK}

    # Jobs.
    job, _ = await rec.one(jobs.link_job(
        actor=writer, build_id=bid, command=LinkJob(platform="jenkins", job_name="image")),
        writer, "job.linked", target_type="build_job")
    await rec.one(jobs.update_job(
        actor=writer, build_id=bid, job_id=str(job.id), command=UpdateJob(status="running")),
        writer, "job.updated")

    # Failure, resume request (with a sensitive override), its status moves, cancellation.
    await rec.one(builds.record_failure(
        actor=writer, build_id=bid, command=RecordFailure(state_code=20, error_message="timeout")),
        writer, "build.failed")
    request, e = await rec.one(resume.request_resume(
        actor=writer, build_id=bid, command=RequestResume(
            resume_reason="network flake", variable_overrides={"db_password": SECRET})),
        writer, "resume.requested", target_type="resume_request")
    assert e.reason == "network flake"
    assert e.data["variable_changes"] == [{"key": "db_password", "old": MASK, "new": MASK}]
    await rec.one(resume.update_resume_request(
        actor=writer, request_id=str(request.id), command=UpdateResumeRequest(status="triggered")),
        writer, "resume.status_changed")
    await rec.one(resume.update_resume_request(
        actor=writer, request_id=str(request.id),
        command=UpdateResumeRequest(orchestration_job_id="42")),
        writer, "resume.updated")
    # Reopening changes the request and the build: one event for each change.
    await rec.several(builds.transition_build(
        actor=writer, build_id=bid, command=TransitionBuild(state_code=20, status="in_progress")),
        writer, ["resume.status_changed", "build.reopened", "build.state_changed"])
    # Reaching the final state completes the build and its running request.
    await rec.several(builds.transition_build(
        actor=writer, build_id=bid, command=TransitionBuild(state_code=100, status="completed")),
        writer, ["build.state_changed", "resume.status_changed", "build.completed"])

    # Cancelling: a build with an open request cancels both; the request alone, too.
    b2 = await builds.create_build(actor=writer, command=CreateBuild(project_id=pid, build_number=2))
    await builds.transition_build(actor=writer, build_id=str(b2.id),
                                  command=TransitionBuild(state_code=10, status="completed"))
    await builds.record_failure(actor=writer, build_id=str(b2.id),
                                command=RecordFailure(error_message="disk full"))
    await resume.request_resume(actor=writer, build_id=str(b2.id),
                                command=RequestResume(resume_reason="retry"))
    await rec.one(resume.cancel_open_request(actor=writer, build_id=str(b2.id), reason="not now"),
                  writer, "resume.status_changed")
    await resume.request_resume(actor=writer, build_id=str(b2.id),
                                command=RequestResume(resume_reason="retry again"))
    await rec.several(builds.cancel_build(actor=writer, build_id=str(b2.id), reason="obsolete"),
                      writer, ["resume.status_changed", "build.cancelled"])

    # Cleanup retires an expired artifact with one event, as the cleanup actor.
    b3 = await builds.create_build(actor=writer, command=CreateBuild(project_id=pid, build_number=3))
    old = await artifacts.register_artifact(actor=writer, build_id=str(b3.id), command=RegisterArtifact(
        state_code=10, artifact_name="tmp", artifact_type="file", artifact_path="/nowhere/tmp"))
    await Artifact.filter(id=old.id).update(expires_at=utcnow() - timedelta(days=1))
    before = await _top()
    report = await cleanup.run_cleanup(actor=cleanup.CLEANUP_ACTOR)
    mine = [e for e in await Event.filter(id__gt=before) if e.target_id == str(old.id)]
    assert [e.action for e in mine] == ["artifact.expired"] and mine[0].actor == "cleanup"
    assert report.count(cleanup.RETIRED) >= 1
    rec.covered.add("run_cleanup")

    # Key management (admin) and deleting a project.
    created, e = await rec.one(keys.create_key(actor=admin, name=unique("k"), scopes=["read"]),
                               admin, "api_key.created", target_type="api_key")
    assert created.plain not in _dump(e)
    await rec.one(keys.revoke_key(actor=admin, key_id=str(created.key.id)), admin, "api_key.revoked")
    empty = unique("gone")
    await projects.create_project(actor=writer, command=CreateProject(id=empty, name=empty))
    await rec.one(projects.delete_project(actor=admin, project_id=empty), admin, "project.deleted")

    # No event of these builds ever holds a secret in clear.
    for event in await Event.filter(build_id__in=[b.id, b2.id, b3.id]):
        assert SECRET not in _dump(event) and NEW_SECRET not in _dump(event), event.action

    # The walk: every public write function of the services was exercised above.
    missing = sorted(_write_functions() - rec.covered)
    assert not missing, f"write paths without an audit test: {missing}"


def _write_functions() -> set[str]:
    found: set[str] = set()
    for info in pkgutil.iter_modules(app.services.__path__):
        if info.name in OTHER_OWNERS or info.ispkg:
            continue
        module = importlib.import_module(f"app.services.{info.name}")
        for name, fn in vars(module).items():
            if (
                inspect.iscoroutinefunction(fn) and fn.__module__ == module.__name__
                and name.startswith(WRITE_PREFIXES)
                and "actor" in inspect.signature(fn).parameters
                and inspect.signature(fn).parameters["actor"].kind is inspect.Parameter.KEYWORD_ONLY
            ):
                found.add(name)
    return found
