"""Projects, state codes and the build state machine through mutations."""

from __future__ import annotations

import uuid

from db.models import Build, BuildState, Project, StateCode
from tests import factories
from tests.conftest import unique
from tests.graphql.support import ok, outcome

CREATE_PROJECT = f"""
mutation($input: CreateProjectInput!) {{
  createProject(input: $input) {{ {outcome("ConflictError", "ValidationError")} ... on Project {{ id name autoResume maxAutoResumes }} }}
}}"""


async def test_create_project(database, writer) -> None:
    pid = unique()
    out = (await ok(CREATE_PROJECT, writer, {"input": {"id": pid, "name": "RHEL 9"}}))["createProject"]
    assert out == {"__typename": "Project", "id": pid, "name": "RHEL 9", "autoResume": False,
                   "maxAutoResumes": 3}
    again = (await ok(CREATE_PROJECT, writer, {"input": {"id": pid, "name": "x"}}))["createProject"]
    assert again["__typename"] == "ConflictError"
    assert (again["code"], again["existingId"]) == ("CONFLICT", pid)
    assert (await Project.get(id=pid)).name == "RHEL 9"


async def test_create_project_validation(database, writer) -> None:
    for bad, field in [({"id": "Has Spaces", "name": "x"}, "id"),
                       ({"id": unique(), "name": ""}, "name"),
                       ({"id": unique(), "name": "x", "maxAutoResumes": 1000}, "maxAutoResumes"),
                       ({"id": unique(), "name": "x", "autoResume": None}, "autoResume")]:
        out = (await ok(CREATE_PROJECT, writer, {"input": bad}))["createProject"]
        assert out["__typename"] == "ValidationError", bad
        assert (out["code"], out["field"]) == ("VALIDATION", field)
        assert out["message"].startswith(field)
        assert not await Project.exists(id=bad["id"])


DEFINE_STATE = f"""
mutation($project: ID!, $input: DefineStateCodeInput!) {{
  defineStateCode(projectId: $project, input: $input) {{ {outcome("NotFoundError", "ConflictError", "ValidationError")} ... on StateCode {{ id stateCode: code name isFinal }} }}
}}"""


async def test_define_state_code(database, writer, reader) -> None:
    pid = await factories.project(writer, with_states=False)
    out = (await ok(DEFINE_STATE, writer, {"project": pid, "input": {"code": 100, "name": "done", "isFinal": True}}))
    assert out["defineStateCode"]["__typename"] == "StateCode"
    assert (out["defineStateCode"]["stateCode"], out["defineStateCode"]["isFinal"]) == (100, True)
    dup = (await ok(DEFINE_STATE, writer, {"project": pid, "input": {"code": 100, "name": "again"}}))
    dup = dup["defineStateCode"]
    assert dup["__typename"] == "ConflictError"
    assert dup["existingId"] == out["defineStateCode"]["id"]
    missing = (await ok(DEFINE_STATE, writer, {"project": "no-such", "input": {"code": 1, "name": "x"}}))
    assert missing["defineStateCode"]["__typename"] == "NotFoundError"
    bad = (await ok(DEFINE_STATE, writer, {"project": pid, "input": {"code": -1, "name": "x"}}))
    assert (bad["defineStateCode"]["__typename"], bad["defineStateCode"]["field"]) == ("ValidationError", "code")
    assert await StateCode.filter(project_id=pid).count() == 1


CREATE_BUILD = f"""
mutation($input: CreateBuildInput!) {{
  createBuild(input: $input) {{ {outcome("NotFoundError", "ConflictError", "ValidationError")}
    ... on Build {{ id status currentState buildNumber metadata project {{ id }} }} }}
}}"""


async def test_create_build(database, writer) -> None:
    pid = await factories.project(writer)
    made = (await ok(CREATE_BUILD, writer, {"input": {
        "projectId": pid, "buildNumber": 7, "platform": "vsphere", "metadata": {"git": "abc"}}}))
    made = made["createBuild"]
    assert made["__typename"] == "Build"
    assert (made["status"], made["currentState"], made["buildNumber"]) == ("pending", 0, 7)
    assert made["metadata"] == {"git": "abc"} and made["project"] == {"id": pid}

    dup = (await ok(CREATE_BUILD, writer, {"input": {"projectId": pid, "buildNumber": 7}}))["createBuild"]
    assert (dup["__typename"], dup["existingId"]) == ("ConflictError", made["id"])
    gone = (await ok(CREATE_BUILD, writer, {"input": {"projectId": "nope", "buildNumber": 1}}))
    assert gone["createBuild"]["__typename"] == "NotFoundError"
    for bad, field in [({"projectId": pid, "buildNumber": -1}, "buildNumber"),
                       ({"projectId": pid, "buildNumber": 8, "metadata": [1, 2]}, "metadata")]:
        out = (await ok(CREATE_BUILD, writer, {"input": bad}))["createBuild"]
        assert (out["__typename"], out["field"]) == ("ValidationError", field)
    assert await Build.filter(project_id=pid).count() == 1


TRANSITION = f"""
mutation($id: ID!, $input: TransitionBuildInput!) {{
  transitionBuild(buildId: $id, input: $input) {{ {outcome("NotFoundError", "InvalidTransitionError", "ValidationError")}
    ... on Build {{ status currentState lastSuccessfulState stateHistory {{ stateCode status }} }} }}
}}"""


async def test_transition_build(database, writer) -> None:
    pid = await factories.project(writer)
    b = await factories.build(writer, pid)
    moved = (await ok(TRANSITION, writer, {"id": str(b.id), "input": {"stateCode": 10, "status": "in_progress"}}))
    moved = moved["transitionBuild"]
    assert (moved["status"], moved["currentState"]) == ("running", 10)
    assert moved["stateHistory"] == [{"stateCode": 10, "status": "in_progress"}]

    bad = (await ok(TRANSITION, writer, {"id": str(b.id), "input": {"stateCode": 11, "status": "completed"}}))
    assert (bad["transitionBuild"]["__typename"], bad["transitionBuild"]["field"]) == ("ValidationError", "stateCode")
    for ident in (str(uuid.uuid4()), "garbage"):
        out = (await ok(TRANSITION, writer, {"id": ident, "input": {"stateCode": 10, "status": "completed"}}))
        assert out["transitionBuild"]["__typename"] == "NotFoundError"

    done = (await ok(TRANSITION, writer, {"id": str(b.id), "input": {"stateCode": 100, "status": "completed"}}))
    assert done["transitionBuild"]["status"] == "completed"
    after = (await ok(TRANSITION, writer, {"id": str(b.id), "input": {"stateCode": 10, "status": "completed"}}))
    after = after["transitionBuild"]
    assert (after["__typename"], after["code"], after["currentStatus"]) == (
        "InvalidTransitionError", "INVALID_TRANSITION", "completed")
    assert await BuildState.filter(build_id=b.id).count() == 2


async def test_a_failed_build_needs_a_resume_first(database, writer) -> None:
    _, failed = await factories.seed_failed_build(writer)
    out = (await ok(TRANSITION, writer, {"id": str(failed.id), "input": {"stateCode": 35, "status": "in_progress"}}))
    out = out["transitionBuild"]
    assert (out["__typename"], out["currentStatus"]) == ("InvalidTransitionError", "failed")
    assert "resume" in out["message"]


FAIL = f"""
mutation($id: ID!, $input: RecordFailureInput!) {{
  recordFailure(buildId: $id, input: $input) {{ {outcome("NotFoundError", "InvalidTransitionError", "ValidationError")}
    ... on Build {{ status currentState failedState resumeContext {{ resumeFromState }} }} }}
}}"""


async def test_record_failure(database, writer) -> None:
    pid = await factories.project(writer)
    b = await factories.build(writer, pid)
    await factories.move(writer, b.id, 30)
    out = (await ok(FAIL, writer, {"id": str(b.id), "input": {
        "stateCode": 35, "errorMessage": "timeout", "errorCode": "NET", "retryable": True}}))
    assert out["recordFailure"] == {"__typename": "Build", "status": "failed", "currentState": 30,
                                    "failedState": 35, "resumeContext": {"resumeFromState": 35}}
    empty = (await ok(FAIL, writer, {"id": str(b.id), "input": {"errorMessage": ""}}))["recordFailure"]
    assert (empty["__typename"], empty["field"]) == ("ValidationError", "errorMessage")


CANCEL = f"""
mutation($id: ID!) {{ cancelBuild(buildId: $id, reason: "superseded") {{ {outcome("NotFoundError", "InvalidTransitionError")} ... on Build {{ status }} }} }}
"""


async def test_cancel_build(database, writer) -> None:
    pid = await factories.project(writer)
    b = await factories.build(writer, pid)
    assert (await ok(CANCEL, writer, {"id": str(b.id)}))["cancelBuild"] == {"__typename": "Build", "status": "cancelled"}
    again = (await ok(CANCEL, writer, {"id": str(b.id)}))["cancelBuild"]
    assert (again["__typename"], again["currentStatus"]) == ("InvalidTransitionError", "cancelled")
    gone = (await ok(CANCEL, writer, {"id": str(uuid.uuid4())}))["cancelBuild"]
    assert gone["__typename"] == "NotFoundError"
    failure = (await ok(FAIL, writer, {"id": str(b.id), "input": {"errorMessage": "late"}}))["recordFailure"]
    assert failure["__typename"] == "InvalidTransitionError"
