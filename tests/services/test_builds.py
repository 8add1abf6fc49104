"""The build state machine and the derived states, through the service layer."""

from __future__ import annotations

import pytest

from app.services import builds, context, resume
from app.services.commands import RecordFailure, RequestResume, TransitionBuild
from app.services.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from db.models import BuildState, Event
from tests import factories as f


async def test_first_transition_runs_the_build_and_history_is_appended(database, writer):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    assert (b.status, b.current_state, b.last_successful_state) == ("pending", 0, None)
    b = await f.move(writer, b.id, 10, "in_progress")
    assert b.status == "running" and b.current_state == 10 and b.started_at is not None
    b = await f.move(writer, b.id, 10, "completed")
    assert b.last_successful_state == 10
    history = await builds.state_history(actor=writer, build_id=str(b.id))
    assert [(h.state_code, h.status) for h in history] == [(10, "in_progress"), (10, "completed")]


async def test_seed_example_derived_values(database, writer):
    _, b = await f.seed_failed_build(writer)
    assert (b.status, b.current_state, b.last_successful_state, b.failed_state) == (
        "failed", 30, 30, 35)
    ctx = await context.get_resume_context(actor=writer, build_id=str(b.id))
    assert ctx.resume_from_state == 35
    assert ctx.variables == {"vm_instance_id": "i-0123456789abcdef"}
    assert [a.artifact_name for a in ctx.artifacts] == ["rhel9-snapshot-001"]
    assert ctx.can_resume and ctx.blockers == []


async def test_resume_from_state_without_failure_is_next_project_state(database, writer):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    await f.move(writer, b.id, 10)
    await f.move(writer, b.id, 20)
    ctx = await context.get_resume_context(actor=writer, build_id=str(b.id))
    assert ctx.resume_from_state == 30  # the state after the last successful one
    assert not ctx.can_resume and "only failed or cancelled" in ctx.blockers[0]


async def test_project_without_state_codes_accepts_any_code_and_100_completes(database, writer):
    pid = await f.project(writer, with_states=False)
    b = await f.build(writer, pid)
    await f.move(writer, b.id, 7, "completed")
    ctx = await context.get_resume_context(actor=writer, build_id=str(b.id))
    assert ctx.resume_from_state == 7  # no project states: the current state
    b = await f.move(writer, b.id, 100, "completed")
    assert b.status == "completed" and b.finished_at is not None


async def test_unknown_state_code_is_refused_and_changes_nothing(database, writer):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    with pytest.raises(ValidationFailed) as err:
        await f.move(writer, b.id, 11)
    assert err.value.details["field"] == "state_code" and "not defined" in err.value.message
    assert await BuildState.filter(build_id=b.id).count() == 0
    assert await Event.filter(build_id=b.id, action="build.state_changed").count() == 0


async def test_final_state_completes_and_completed_build_refuses_moves(database, writer):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    b = await f.move(writer, b.id, 100)
    assert b.status == "completed"
    with pytest.raises(InvalidTransition):
        await f.move(writer, b.id, 10)
    with pytest.raises(InvalidTransition):
        await builds.record_failure(actor=writer, build_id=str(b.id),
                                    command=RecordFailure(error_message="late"))


async def test_failed_build_needs_a_resume_request_then_reopens(database, writer):
    _, b = await f.seed_failed_build(writer)
    with pytest.raises(InvalidTransition) as err:
        await f.move(writer, b.id, 35, "in_progress")
    assert "request a resume first" in err.value.message
    req = await resume.request_resume(
        actor=writer, build_id=str(b.id), command=RequestResume(resume_reason="flaky mirror"))
    assert req.status == "pending" and req.resume_from_state == 35
    b = await f.move(writer, b.id, 35, "in_progress")
    assert (b.status, b.resume_count, b.failed_state) == ("running", 1, None)
    req = await resume.get_resume_request(actor=writer, request_id=str(req.id))
    assert req.status == "running"
    b = await f.move(writer, b.id, 100)
    assert b.status == "completed"
    req = await resume.get_resume_request(actor=writer, request_id=str(req.id))
    assert req.status == "completed" and req.completed_at is not None


async def test_failure_defaults_to_current_state_and_does_not_move_it(database, writer):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    await f.move(writer, b.id, 20, "in_progress")
    b = await builds.record_failure(actor=writer, build_id=str(b.id),
                                    command=RecordFailure(error_message="boom", error_code="E1"))
    assert (b.status, b.current_state, b.failed_state) == ("failed", 20, 20)
    last = (await builds.state_history(actor=writer, build_id=str(b.id)))[-1]
    assert (last.status, last.error_message, last.error_code, last.retryable) == (
        "failed", "boom", "E1", False)


async def test_cancel_cancels_open_request(database, writer):
    _, b = await f.seed_failed_build(writer)
    req = await resume.request_resume(actor=writer, build_id=str(b.id),
                                      command=RequestResume(resume_reason="retry"))
    b = await builds.cancel_build(actor=writer, build_id=str(b.id), reason="abandoned")
    assert b.status == "cancelled"
    assert (await resume.get_resume_request(actor=writer, request_id=str(req.id))).status == "cancelled"
    with pytest.raises(InvalidTransition):
        await builds.cancel_build(actor=writer, build_id=str(b.id))


async def test_unknown_and_malformed_ids_are_not_found(database, reader):
    for bad in ("00000000-0000-0000-0000-000000000000", "not-a-uuid", "' OR 1=1 --"):
        with pytest.raises(NotFound):
            await builds.get_build(actor=reader, build_id=bad)


async def test_scopes_are_enforced_in_the_service(database, reader):
    with pytest.raises(Forbidden):
        await builds.transition_build(actor=reader, build_id="x",
                                      command=TransitionBuild(state_code=1, status="completed"))


async def test_every_write_leaves_one_event_with_the_actor(database, writer):
    pid = await f.project(writer)
    b = await f.build(writer, pid)
    await f.move(writer, b.id, 10, "in_progress")
    events = await Event.filter(build_id=b.id).order_by("id")
    assert [e.action for e in events] == ["build.created", "build.state_changed"]
    assert {e.actor for e in events} == {"writer"}
    assert events[1].data["after"] == {"status": "running", "current_state": 10}


async def test_list_builds_filters_and_pages(database, reader, writer):
    pid = await f.project(writer)
    made = [await f.build(writer, pid, n) for n in (1, 2, 3)]
    page = await builds.list_builds(actor=reader, project_id=pid, limit=2)
    assert [b.build_number for b in page.builds] == [3, 2] and page.has_next
    rest = await builds.list_builds(actor=reader, project_id=pid, limit=2, after=page.end_cursor)
    assert [b.build_number for b in rest.builds] == [1] and not rest.has_next
    assert (await builds.list_builds(actor=reader, project_id=pid, status="failed")).builds == []
    with pytest.raises(ValidationFailed):
        await builds.list_builds(actor=reader, status="bogus")
    assert len(made) == 3
