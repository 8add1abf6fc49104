"""Reading through the schema: one query answers "how do I continue this build"."""

from __future__ import annotations

import uuid

from app.services import jobs, resume, variables
from app.services.commands import LinkJob, RequestResume, SetVariable
from db.models import Event
from tests import factories
from tests.graphql.support import error, execute, ok

BUILD = """
query Build($id: ID!) {
  build(id: $id) {
    id status currentState lastSuccessfulState failedState buildNumber resumeCount
    project { id name stateCodes { code name isFinal } }
    artifacts { id artifactName artifactType stateCode artifactPath storageBackend isResumable
                metadata sizeBytes build { id } }
    variables { key value type setAtState isSensitive isRequiredForResume }
    jobs { id platform status isResumeJob resumeRequestId }
    stateHistory { stateCode status message errorMessage retryable }
    resumeRequests { id status resumeFromState resumeReason requestedBy }
    resumeContext {
      buildId currentState lastSuccessfulState failedState resumeFromState canResume
      blockers missingArtifacts missingVariables
      artifacts { artifactName stateCode metadata }
      variables { key value }
      resumableStateConfig {
        stateCode isResumable resumeStrategy requiredArtifacts requiredVariables
        resumeCommand resumeTimeoutSeconds
      }
    }
  }
}
"""


async def test_the_whole_resume_context_in_one_query(database, writer, reader) -> None:
    pid, failed = await factories.seed_failed_build(writer, configure=True)
    await variables.set_variable(
        actor=writer, build_id=str(failed.id),
        command=SetVariable(variable_key="db_password", variable_value="hunter2", is_sensitive=True),
    )
    await jobs.link_job(
        actor=writer, build_id=str(failed.id),
        command=LinkJob(platform="jenkins", job_name="rhel9", build_number=42),
    )

    build = (await ok(BUILD, reader, {"id": str(failed.id)}))["build"]

    assert build["id"] == str(failed.id)
    assert (build["status"], build["currentState"], build["lastSuccessfulState"],
            build["failedState"]) == ("failed", 30, 30, 35)
    assert build["project"]["id"] == pid
    assert [s["code"] for s in build["project"]["stateCodes"]] == [0, 10, 20, 30, 35, 40, 100]
    [artifact] = build["artifacts"]
    assert artifact["artifactName"] == "rhel9-snapshot-001"
    assert artifact["metadata"] == {"vm_id": "i-abc123", "snapshot_id": "snap-xyz789"}
    assert artifact["build"] == {"id": str(failed.id)}
    assert {v["key"]: v["value"] for v in build["variables"]} == {
        "db_password": "******", "vm_instance_id": "i-0123456789abcdef",
    }
    assert build["jobs"][0]["platform"] == "jenkins"
    assert build["stateHistory"][-1] == {
        "stateCode": 35, "status": "failed", "message": "Network timeout",
        "errorMessage": "Network timeout", "retryable": True,
    }
    assert build["resumeRequests"] == []

    context = build["resumeContext"]
    assert context["buildId"] == str(failed.id)
    assert (context["currentState"], context["lastSuccessfulState"], context["failedState"],
            context["resumeFromState"]) == (30, 30, 35, 35)
    assert context["canResume"] is True
    assert context["blockers"] == context["missingArtifacts"] == context["missingVariables"] == []
    assert [a["artifactName"] for a in context["artifacts"]] == ["rhel9-snapshot-001"]
    assert {v["key"]: v["value"] for v in context["variables"]} == {
        "db_password": "******", "vm_instance_id": "i-0123456789abcdef",
    }
    assert context["resumableStateConfig"] == {
        "stateCode": 35, "isResumable": True, "resumeStrategy": "from_artifact",
        "requiredArtifacts": ["rhel9-snapshot-001"], "requiredVariables": ["vm_instance_id"],
        "resumeCommand": "make harden", "resumeTimeoutSeconds": 3600,
    }


async def test_resume_context_names_what_is_missing(database, writer, reader) -> None:
    _, failed = await factories.seed_failed_build(writer, configure=True)
    await variables.delete_variable(actor=writer, build_id=str(failed.id), key="vm_instance_id")
    doc = "query($id: ID!) { build(id: $id) { resumeContext { canResume blockers missingVariables } } }"
    context = (await ok(doc, reader, {"id": str(failed.id)}))["build"]["resumeContext"]
    assert context == {
        "canResume": False,
        "blockers": ["required variable 'vm_instance_id' is not set"],
        "missingVariables": ["vm_instance_id"],
    }


SECRETS = """
query($id: ID!, $reveal: Boolean!) {
  build(id: $id) {
    variables(reveal: $reveal) { key value isSensitive }
    resumeContext(reveal: $reveal) { variables { key value } }
  }
}
"""


async def test_sensitive_values_are_masked_for_everyone_by_default(database, writer, admin) -> None:
    _, failed = await factories.seed_failed_build(writer)
    await variables.set_variable(
        actor=writer, build_id=str(failed.id),
        command=SetVariable(variable_key="token", variable_value="s3cr3t", is_sensitive=True),
    )
    for actor in (writer, admin):
        build = (await ok(SECRETS, actor, {"id": str(failed.id), "reveal": False}))["build"]
        assert {"key": "token", "value": "******", "isSensitive": True} in build["variables"]
        assert {"key": "token", "value": "******"} in build["resumeContext"]["variables"]
    assert not await Event.exists(build_id=failed.id, action="variable.revealed")


async def test_an_admin_may_reveal_and_the_read_is_audited(database, writer, admin) -> None:
    _, failed = await factories.seed_failed_build(writer)
    await variables.set_variable(
        actor=writer, build_id=str(failed.id),
        command=SetVariable(variable_key="token", variable_value="s3cr3t", is_sensitive=True),
    )
    build = (await ok(SECRETS, admin, {"id": str(failed.id), "reveal": True}))["build"]
    assert {"key": "token", "value": "s3cr3t", "isSensitive": True} in build["variables"]
    assert {"key": "token", "value": "s3cr3t"} in build["resumeContext"]["variables"]
    audited = await Event.filter(build_id=failed.id, action="variable.revealed")
    assert {e.actor for e in audited} == {"admin"} and len(audited) == 2


async def test_reveal_without_admin_is_forbidden(database, writer) -> None:
    _, failed = await factories.seed_failed_build(writer)
    result = await execute(SECRETS, writer, {"id": str(failed.id), "reveal": True})
    codes = {e.extensions["code"] for e in result.errors}
    assert codes == {"FORBIDDEN"}
    assert not await Event.exists(build_id=failed.id, action="variable.revealed")


async def test_artifact_filters(database, writer, reader) -> None:
    from app.services import artifacts
    from app.services.commands import RegisterArtifact

    pid = await factories.project(writer)
    b = await factories.build(writer, pid)
    for name, code, kind, resumable, final in [
        ("a", 10, "vm_snapshot", True, False), ("b", 20, "ami", True, True),
        ("c", 20, "config_file", False, False), ("d", 30, "ami", False, True),
    ]:
        await artifacts.register_artifact(
            actor=writer, build_id=str(b.id),
            command=RegisterArtifact(state_code=code, artifact_name=name, artifact_type=kind,
                                     artifact_path=f"s3://x/{name}", is_resumable=resumable,
                                     is_final=final, size_bytes=5 * 2**30),
        )
    doc = """query($id: ID!) { build(id: $id) {
      all: artifacts { artifactName sizeBytes }
      s20: artifacts(stateCode: 20) { artifactName }
      ami: artifacts(artifactType: "ami") { artifactName }
      resumable: artifacts(isResumable: true) { artifactName }
      final: artifacts(isFinal: true, isResumable: false) { artifactName }
    } }"""
    build = (await ok(doc, reader, {"id": str(b.id)}))["build"]
    names = {k: [a["artifactName"] for a in v] for k, v in build.items()}
    assert names == {"all": ["a", "b", "c", "d"], "s20": ["b", "c"], "ami": ["b", "d"],
                     "resumable": ["a", "b"], "final": ["d"]}
    assert build["all"][0]["sizeBytes"] == 5 * 2**30  # past 32 bits


async def test_unknown_and_malformed_ids_are_null(database, reader) -> None:
    for ident in (str(uuid.uuid4()), "not-a-uuid", ""):
        data = await ok("query($id: ID!) { build(id: $id) { id } resumeRequest(id: $id) { id } }",
                        reader, {"id": ident})
        assert data == {"build": None, "resumeRequest": None}
    assert (await ok('query { project(id: "no-such-project") { id } }', reader)) == {"project": None}


BUILDS = """
query($project: ID, $status: BuildStatus, $first: Int!, $after: String) {
  builds(projectId: $project, status: $status, first: $first, after: $after) {
    edges { cursor node { id buildNumber status } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_builds_is_a_relay_connection(database, writer, reader) -> None:
    pid = await factories.project(writer)
    made = [await factories.build(writer, pid, n) for n in range(1, 6)]
    seen, after, pages = [], None, 0
    while True:
        page = (await ok(BUILDS, reader, {"project": pid, "first": 2, "after": after}))["builds"]
        pages += 1
        seen += [e["node"]["buildNumber"] for e in page["edges"]]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == [5, 4, 3, 2, 1]  # newest first, each exactly once
    # A cursor taken from the middle of a page continues right after that edge.
    first = (await ok(BUILDS, reader, {"project": pid, "first": 3}))["builds"]["edges"]
    rest = (await ok(BUILDS, reader, {"project": pid, "first": 10, "after": first[0]["cursor"]}))
    assert [e["node"]["buildNumber"] for e in rest["builds"]["edges"]] == [4, 3, 2, 1]

    await factories.move(writer, made[0].id, 10, "in_progress")
    running = (await ok(BUILDS, reader, {"project": pid, "first": 10, "status": "running"}))
    assert [e["node"]["id"] for e in running["builds"]["edges"]] == [str(made[0].id)]


async def test_builds_page_size_is_bounded(database, reader) -> None:
    for first in (0, -1, 101):
        err = await error(BUILDS, reader, {"first": first})
        assert err["extensions"] == {"code": "VALIDATION", "field": "first"}, first
        assert err["path"] == ["builds"]
    assert (await ok(BUILDS, reader, {"first": 100}))["builds"] is not None


async def test_a_forged_cursor_is_a_validation_error(database, reader) -> None:
    import base64

    for cursor in ("garbage", base64.urlsafe_b64encode(b"2020|x").decode(), "!!!"):
        err = await error(BUILDS, reader, {"first": 5, "after": cursor})
        assert err["extensions"]["code"] == "VALIDATION", cursor
        assert err["extensions"]["field"] == "after"


async def test_projects_and_their_resumable_states(database, writer, reader) -> None:
    _, failed = await factories.seed_failed_build(writer, configure=True)
    doc = """query($id: ID!) { project(id: $id) { id name resumableStates { stateCode requiredArtifacts } } }"""
    project = (await ok(doc, reader, {"id": failed.project_id}))["project"]
    assert project["resumableStates"] == [
        {"stateCode": 35, "requiredArtifacts": ["rhel9-snapshot-001"]}
    ]
    listed = (await ok("query { projects(first: 100) { id } }", reader))["projects"]
    assert failed.project_id in {p["id"] for p in listed} or len(listed) == 100
    err = await error("query { projects(first: 0) { id } }", reader)
    assert err["extensions"]["code"] == "VALIDATION"


async def test_resume_request_by_id(database, writer, reader) -> None:
    _, failed = await factories.seed_failed_build(writer, configure=True)
    request = await resume.request_resume(
        actor=writer, build_id=str(failed.id),
        command=RequestResume(resume_reason="flaky network", variable_overrides={"vpc_id": "vpc-9"}),
    )
    doc = """query($id: ID!) { resumeRequest(id: $id) {
      id status resumeFromState resumeReason requestedBy requestSource
      variableChanges { key old new } build { id status }
    } }"""
    data = (await ok(doc, reader, {"id": str(request.id)}))["resumeRequest"]
    assert data == {
        "id": str(request.id), "status": "pending", "resumeFromState": 35,
        "resumeReason": "flaky network", "requestedBy": "writer", "requestSource": "api",
        "variableChanges": [{"key": "vpc_id", "old": None, "new": "vpc-9"}],
        "build": {"id": str(failed.id), "status": "failed"},
    }


async def test_unexpected_errors_are_masked(database, reader, monkeypatch) -> None:
    from app.services import projects

    async def boom(*args, **kwargs):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(projects, "list_projects", boom)
    err = await error("query { projects { id } }", reader)
    assert err["message"] == "Unexpected error."
    assert err["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" not in str(err)


async def test_graphql_validation_errors_are_not_masked(database, reader) -> None:
    err = await error("query { build(id: 1) { nope } }", reader)
    assert "nope" in err["message"]
    err = await error("query($f: Int!) { builds(first: $f) { pageInfo { hasNextPage } } }", reader)
    assert "$f" in err["message"]

