"""Resume requests, resumable-state configs and CI jobs through mutations."""

from __future__ import annotations

import uuid

from db.models import ResumableState, ResumeRequest, Variable
from tests import factories
from tests.graphql.support import ok, outcome

REQUEST = f"""
mutation($id: ID!, $input: RequestResumeInput!) {{
  requestResume(buildId: $id, input: $input) {{
    {outcome("NotFoundError", "ConflictError", "ValidationError", "NotResumableError", "InvalidTransitionError")}
    ... on ResumeRequest {{
      id status resumeFromState resumeReason requestedBy requestSource orchestrationConfig
      variableChanges {{ key old new }}
      build {{ resumeContext {{ resumeFromState variables {{ key value }} }} }}
    }}
  }}
}}"""


async def test_request_resume(database, writer) -> None:
    _, failed = await factories.seed_failed_build(writer, configure=True)
    out = (await ok(REQUEST, writer, {"id": str(failed.id), "input": {
        "resumeFromState": 35, "resumeReason": "Network timeout during package installation",
        "requestedBy": "ops-team", "requestSource": "cli",
        "orchestrationConfig": {"platform": "jenkins", "job": "rhel9"},
        "variableOverrides": [{"key": "vm_instance_id", "value": "i-new"}],
    }}))["requestResume"]
    assert out["__typename"] == "ResumeRequest"
    assert (out["status"], out["resumeFromState"], out["requestedBy"], out["requestSource"]) == (
        "pending", 35, "ops-team", "cli")
    assert out["orchestrationConfig"] == {"platform": "jenkins", "job": "rhel9"}
    assert out["variableChanges"] == [{"key": "vm_instance_id", "old": "i-0123456789abcdef", "new": "i-new"}]
    context = out["build"]["resumeContext"]
    assert context["resumeFromState"] == 35
    assert {"key": "vm_instance_id", "value": "i-new"} in context["variables"]

    second = (await ok(REQUEST, writer, {"id": str(failed.id), "input": {"resumeReason": "again"}}))
    second = second["requestResume"]
    assert (second["__typename"], second["existingId"]) == ("ConflictError", out["id"])
    assert await ResumeRequest.filter(build_id=failed.id).count() == 1


async def test_not_resumable_lists_what_is_missing(database, writer) -> None:
    _, failed = await factories.seed_failed_build(writer, configure=True)
    await Variable.filter(build_id=failed.id).delete()
    out = (await ok(REQUEST, writer, {"id": str(failed.id), "input": {"resumeReason": "retry"}}))
    out = out["requestResume"]
    assert out["__typename"] == "NotResumableError" and out["code"] == "NOT_RESUMABLE"
    assert (out["missingArtifacts"], out["missingVariables"]) == ([], ["vm_instance_id"])
    assert out["reasons"] == ["required variable 'vm_instance_id' is not set"]
    assert not await ResumeRequest.exists(build_id=failed.id)


async def test_request_resume_refusals(database, writer) -> None:
    _, failed = await factories.seed_failed_build(writer)
    cases = [
        ({"resumeReason": ""}, "ValidationError", "resumeReason"),
        ({"resumeReason": "   "}, "ValidationError", "resumeReason"),
        ({"resumeReason": "x", "resumeFromState": 40}, "ValidationError", "resumeFromState"),
        ({"resumeReason": "x", "variableOverrides": [{"key": "bad key", "value": "v"}]},
         "ValidationError", "variableOverrides.bad key"),
        ({"resumeReason": "x", "orchestrationConfig": ["not", "an", "object"]},
         "ValidationError", "orchestrationConfig"),
    ]
    for input, kind, field in cases:
        out = (await ok(REQUEST, writer, {"id": str(failed.id), "input": input}))["requestResume"]
        assert (out["__typename"], out.get("field")) == (kind, field), input
    running = await factories.build(writer, failed.project_id)
    await factories.move(writer, running.id, 10, "in_progress")
    out = (await ok(REQUEST, writer, {"id": str(running.id), "input": {"resumeReason": "x"}}))["requestResume"]
    assert (out["__typename"], out["currentStatus"]) == ("InvalidTransitionError", "running")
    gone = (await ok(REQUEST, writer, {"id": str(uuid.uuid4()), "input": {"resumeReason": "x"}}))
    assert gone["requestResume"]["__typename"] == "NotFoundError"
    assert not await ResumeRequest.exists(build_id=failed.id)


UPDATE_REQUEST = f"""
mutation($id: ID!, $input: UpdateResumeRequestInput!, $version: Int) {{
  updateResumeRequest(id: $id, input: $input, expectedVersion: $version) {{
    {outcome("NotFoundError", "InvalidTransitionError", "ValidationError", "PreconditionFailedError")}
    ... on ResumeRequest {{ status orchestrationJobId triggeredAt version }}
  }}
}}"""


async def test_update_resume_request_follows_the_machine(database, writer) -> None:
    _, failed = await factories.seed_failed_build(writer)
    made = (await ok(REQUEST, writer, {"id": str(failed.id), "input": {"resumeReason": "retry"}}))
    rid = made["requestResume"]["id"]

    moved = (await ok(UPDATE_REQUEST, writer, {"id": rid, "version": 1, "input": {
        "status": "triggered", "orchestrationJobId": "jenkins-77"}}))["updateResumeRequest"]
    assert (moved["status"], moved["orchestrationJobId"], moved["version"]) == ("triggered", "jenkins-77", 2)
    assert moved["triggeredAt"] is not None
    illegal = (await ok(UPDATE_REQUEST, writer, {"id": rid, "input": {"status": "completed"}}))
    illegal = illegal["updateResumeRequest"]
    assert (illegal["__typename"], illegal["currentStatus"]) == ("InvalidTransitionError", "triggered")
    stale = (await ok(UPDATE_REQUEST, writer, {"id": rid, "version": 1, "input": {"status": "running"}}))
    assert stale["updateResumeRequest"]["__typename"] == "PreconditionFailedError"
    null = (await ok(UPDATE_REQUEST, writer, {"id": rid, "input": {"status": None}}))["updateResumeRequest"]
    assert (null["__typename"], null["field"]) == ("ValidationError", "status")
    cleared = (await ok(UPDATE_REQUEST, writer, {"id": rid, "input": {"orchestrationJobId": None}}))
    assert cleared["updateResumeRequest"]["orchestrationJobId"] is None
    for ident in (str(uuid.uuid4()), "nope"):
        gone = (await ok(UPDATE_REQUEST, writer, {"id": ident, "input": {"status": "running"}}))
        assert gone["updateResumeRequest"]["__typename"] == "NotFoundError"
    assert (await ResumeRequest.get(id=rid)).status == "triggered"


DEFINE = f"""
mutation($project: ID!, $input: DefineResumableStateInput!) {{
  defineResumableState(projectId: $project, input: $input) {{
    {outcome("NotFoundError", "ConflictError", "ValidationError")}
    ... on ResumableState {{ id stateCode isResumable resumeStrategy requiredArtifacts resumeTimeoutSeconds }}
  }}
}}"""

UPDATE_CONFIG = f"""
mutation($project: ID!, $code: Int!, $input: UpdateResumableStateInput!) {{
  updateResumableState(projectId: $project, stateCode: $code, input: $input) {{
    {outcome("NotFoundError", "ValidationError")}
    ... on ResumableState {{ stateCode isResumable requiredVariables resumeCommand }}
  }}
}}"""


async def test_resumable_state_configs(database, writer) -> None:
    pid = await factories.project(writer)
    made = (await ok(DEFINE, writer, {"project": pid, "input": {
        "stateCode": 35, "resumeStrategy": "rerun_state", "requiredArtifacts": ["vm_snapshot"]}}))
    made = made["defineResumableState"]
    assert made == {**made, "__typename": "ResumableState", "stateCode": 35, "isResumable": True,
                    "resumeStrategy": "rerun_state", "requiredArtifacts": ["vm_snapshot"],
                    "resumeTimeoutSeconds": 3600}
    dup = (await ok(DEFINE, writer, {"project": pid, "input": {"stateCode": 35}}))["defineResumableState"]
    assert (dup["__typename"], dup["existingId"]) == ("ConflictError", made["id"])
    gone = (await ok(DEFINE, writer, {"project": "nope", "input": {"stateCode": 35}}))
    assert gone["defineResumableState"]["__typename"] == "NotFoundError"
    bad = (await ok(DEFINE, writer, {"project": pid, "input": {"stateCode": 40, "resumeTimeoutSeconds": 0}}))
    assert bad["defineResumableState"]["field"] == "resumeTimeoutSeconds"

    changed = (await ok(UPDATE_CONFIG, writer, {"project": pid, "code": 35, "input": {
        "isResumable": False, "requiredVariables": ["vpc_id"], "resumeCommand": "make 35"}}))
    assert changed["updateResumableState"] == {
        "__typename": "ResumableState", "stateCode": 35, "isResumable": False,
        "requiredVariables": ["vpc_id"], "resumeCommand": "make 35"}
    missing = (await ok(UPDATE_CONFIG, writer, {"project": pid, "code": 99, "input": {"notes": "x"}}))
    assert missing["updateResumableState"]["__typename"] == "NotFoundError"
    null = (await ok(UPDATE_CONFIG, writer, {"project": pid, "code": 35, "input": {"isResumable": None}}))
    assert null["updateResumableState"]["field"] == "isResumable"
    assert await ResumableState.filter(project_id=pid).count() == 1


LINK = f"""
mutation($id: ID!, $input: LinkJobInput!) {{
  linkJob(buildId: $id, input: $input) {{
    {outcome("NotFoundError", "ValidationError")}
    ... on Job {{ id platform status isResumeJob resumedFromState resumeRequestId parentJobId buildNumber startedAt }}
  }}
}}"""

UPDATE_JOB = f"""
mutation($build: ID!, $id: ID!, $input: UpdateJobInput!, $version: Int) {{
  updateJob(buildId: $build, jobId: $id, input: $input, expectedVersion: $version) {{
    {outcome("NotFoundError", "InvalidTransitionError", "ValidationError", "PreconditionFailedError")}
    ... on Job {{ status completedAt version }}
  }}
}}"""


async def test_jobs(database, writer) -> None:
    _, failed = await factories.seed_failed_build(writer)
    bid = str(failed.id)
    first = (await ok(LINK, writer, {"id": bid, "input": {"platform": "jenkins", "buildNumber": "41", "status": "running"}}))
    first = first["linkJob"]
    assert (first["__typename"], first["status"], first["isResumeJob"]) == ("Job", "running", False)
    assert first["startedAt"] is not None
    request = (await ok(REQUEST, writer, {"id": bid, "input": {"resumeReason": "retry"}}))["requestResume"]
    resumed = (await ok(LINK, writer, {"id": bid, "input": {
        "platform": "jenkins", "resumeRequestId": request["id"], "parentJobId": first["id"]}}))["linkJob"]
    assert (resumed["isResumeJob"], resumed["resumedFromState"], resumed["resumeRequestId"],
            resumed["parentJobId"]) == (True, 35, request["id"], first["id"])
    for bad in ({"platform": "jenkins", "parentJobId": "not-a-uuid"},
                {"platform": "jenkins", "resumeRequestId": str(uuid.uuid4())},
                {"platform": ""}):
        out = (await ok(LINK, writer, {"id": bid, "input": bad}))["linkJob"]
        assert out["__typename"] == "ValidationError", bad
    assert (await ok(LINK, writer, {"id": "nope", "input": {"platform": "x"}}))["linkJob"]["__typename"] == "NotFoundError"

    done = (await ok(UPDATE_JOB, writer, {"build": bid, "id": first["id"], "version": 1, "input": {"status": "success"}}))
    done = done["updateJob"]
    assert (done["status"], done["version"]) == ("success", 2) and done["completedAt"] is not None
    back = (await ok(UPDATE_JOB, writer, {"build": bid, "id": first["id"], "input": {"status": "running"}}))
    back = back["updateJob"]
    assert (back["__typename"], back["currentStatus"]) == ("InvalidTransitionError", "success")
    stale = (await ok(UPDATE_JOB, writer, {"build": bid, "id": resumed["id"], "version": 9, "input": {"status": "running"}}))
    assert (stale["updateJob"]["__typename"], stale["updateJob"]["currentVersion"]) == ("PreconditionFailedError", 1)
    null = (await ok(UPDATE_JOB, writer, {"build": bid, "id": resumed["id"], "input": {"status": None}}))
    assert null["updateJob"]["field"] == "status"
    gone = (await ok(UPDATE_JOB, writer, {"build": bid, "id": str(uuid.uuid4()), "input": {"status": "running"}}))
    assert gone["updateJob"]["__typename"] == "NotFoundError"
    listed = await ok("query($id: ID!) { build(id: $id) { jobs { id status } } }", writer, {"id": bid})
    assert [j["status"] for j in listed["build"]["jobs"]] == ["success", "pending"]
