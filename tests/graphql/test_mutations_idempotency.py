"""`idempotencyKey` on the mutations that create something: replay, reuse, concurrency, scope."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from app.services import projects
from app.settings import Settings
from db.models import (
    Artifact,
    Build,
    BuildJob,
    BuildState,
    IdempotencyKey,
    Project,
    ResumableState,
    ResumeRequest,
    StateCode,
    Variable,
)
from schema.context import Context
from tests import factories
from tests.conftest import unique
from tests.graphql.support import error, execute, ok, outcome

CREATE_PROJECT = f"""
mutation($input: CreateProjectInput!, $key: String) {{
  createProject(input: $input, idempotencyKey: $key) {{
    {outcome("ConflictError", "ValidationError")}
    ... on Project {{ id name }}
  }}
}}"""

CREATE_BUILD = f"""
mutation($input: CreateBuildInput!, $key: String) {{
  createBuild(input: $input, idempotencyKey: $key) {{
    {outcome("NotFoundError", "ConflictError", "ValidationError")}
    ... on Build {{ id buildNumber }}
  }}
}}"""

REGISTER = f"""
mutation($id: ID!, $input: RegisterArtifactInput!, $key: String) {{
  registerArtifact(buildId: $id, input: $input, idempotencyKey: $key) {{
    {outcome("NotFoundError", "ConflictError", "ValidationError")}
    ... on Artifact {{ id artifactName }}
  }}
}}"""

ARTIFACT = {"stateCode": 20, "artifactName": "snap-1", "artifactType": "vm_snapshot",
            "artifactPath": "s3://bucket/snap-1.vmdk"}


async def test_same_key_and_input_replay_the_first_answer(database, writer) -> None:
    pid, key = unique("gidem"), unique("k")
    variables = {"input": {"id": pid, "name": "one"}, "key": key}
    first = (await ok(CREATE_PROJECT, writer, variables))["createProject"]
    assert first == {"__typename": "Project", "id": pid, "name": "one"}
    again = (await ok(CREATE_PROJECT, writer, variables))["createProject"]
    assert again == first  # not a ConflictError: the first call's answer
    assert await Project.filter(id=pid).count() == 1
    row = await IdempotencyKey.get(actor=writer.name, key=key)
    assert (row.method, row.path, row.status_code) == ("GRAPHQL", "createProject", 200)
    # Without a key the same input is a new request: the duplicate it is.
    plain = (await ok(CREATE_PROJECT, writer, {"input": {"id": pid, "name": "one"}}))
    assert plain["createProject"]["__typename"] == "ConflictError"


async def test_same_key_with_other_input_is_a_typed_error(database, writer) -> None:
    pid, key = unique("gidem"), unique("k")
    assert (await ok(CREATE_PROJECT, writer, {"input": {"id": pid, "name": "one"}, "key": key}))
    other = (await ok(CREATE_PROJECT, writer, {"input": {"id": pid, "name": "two"}, "key": key}))
    assert other["createProject"]["__typename"] == "ValidationError"
    assert (other["createProject"]["code"], other["createProject"]["field"]) == (
        "IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    # Another mutation with the key is another request too.
    elsewhere = (await ok(CREATE_BUILD, writer,
                          {"input": {"projectId": pid, "buildNumber": 1}, "key": key}))
    assert elsewhere["createBuild"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert (await Project.get(id=pid)).name == "one"
    assert not await Build.filter(project_id=pid).exists()
    bad = (await ok(CREATE_PROJECT, writer,
                    {"input": {"id": unique("gidem"), "name": "x"}, "key": "x" * 256}))
    assert (bad["createProject"]["code"], bad["createProject"]["field"]) == (
        "VALIDATION", "idempotencyKey")


async def test_an_expected_error_is_replayed_as_it_was(database, writer) -> None:
    pid, key = unique("gidem"), unique("k")
    variables = {"input": {"projectId": pid, "buildNumber": 7}, "key": key}
    first = (await ok(CREATE_BUILD, writer, variables))["createBuild"]
    assert first["__typename"] == "NotFoundError"
    await Project.create(id=pid, name=pid)
    # The project exists now, but the retry gets the first answer, not a new build.
    again = (await ok(CREATE_BUILD, writer, variables))["createBuild"]
    assert again == first
    assert not await Build.filter(project_id=pid).exists()


async def test_a_denied_call_keeps_no_key(database, reader) -> None:
    key = unique("k")
    denied = await error(CREATE_PROJECT, reader, {"input": {"id": unique("gidem"), "name": "x"},
                                                  "key": key})
    assert denied["extensions"]["code"] == "FORBIDDEN"
    assert not await IdempotencyKey.filter(key=key).exists()


async def test_20_concurrent_identical_mutations_make_one_row(database, writer) -> None:
    pid = await factories.project(writer)
    b = await factories.build(writer, pid)
    key = unique("k")
    variables = {"id": str(b.id), "input": ARTIFACT, "key": key}
    answers = await asyncio.gather(*(ok(REGISTER, writer, variables) for _ in range(20)))
    outcomes = [a["registerArtifact"] for a in answers]
    assert Counter(o["__typename"] for o in outcomes) == {"Artifact": 20}
    assert len({o["id"] for o in outcomes}) == 1
    assert await Artifact.filter(build_id=b.id).count() == 1


# Every mutation that creates something: (document, variables for a seeded failed build,
# the model and filter that count its rows, the path to the id in the answer).
def _cases(project_id: str, build_id: str) -> list[tuple[str, dict, object, dict, str]]:
    build = {"id": build_id}
    return [
        ("defineStateCode(projectId: $p, input: {code: 50, name: \"extra\"}, idempotencyKey: $key)"
         " { __typename ... on StateCode { id } }", {"p": project_id},
         StateCode, {"project_id": project_id, "code": 50}, "id"),
        ("defineResumableState(projectId: $p, input: {stateCode: 40}, idempotencyKey: $key)"
         " { __typename ... on ResumableState { id } }", {"p": project_id},
         ResumableState, {"project_id": project_id, "state_code": 40}, "id"),
        ("createBuild(input: {projectId: $p, buildNumber: 424242}, idempotencyKey: $key)"
         " { __typename ... on Build { id } }", {"p": project_id},
         Build, {"project_id": project_id, "build_number": 424242}, "id"),
        ("registerArtifact(buildId: $p, input: {stateCode: 30, artifactName: \"img\", "
         "artifactType: \"ami\", artifactPath: \"ami-1\"}, idempotencyKey: $key)"
         " { __typename ... on Artifact { id } }", {"p": build_id},
         Artifact, {"build_id": build_id, "artifact_name": "img"}, "id"),
        ("setVariable(buildId: $p, input: {key: \"net\", value: \"n-1\"}, idempotencyKey: $key)"
         " { __typename ... on VariableSet { created variable { id } } }", {"p": build_id},
         Variable, {"build_id": build_id, "variable_key": "net"}, "variable.id"),
        ("linkJob(buildId: $p, input: {platform: \"jenkins\", jobName: \"j\"}, "
         "idempotencyKey: $key) { __typename ... on Job { id } }", {"p": build_id},
         BuildJob, {"build_id": build_id, "job_name": "j"}, "id"),
        ("requestResume(buildId: $p, input: {resumeReason: \"flaky network\"}, "
         "idempotencyKey: $key) { __typename ... on ResumeRequest { id } }", {"p": build_id},
         ResumeRequest, {"build_id": build_id}, "id"),
        # The build is reopened by the resume request: a transition appends one entry.
        ("transitionBuild(buildId: $p, input: {stateCode: 35, status: in_progress}, "
         "idempotencyKey: $key) { __typename ... on Build { id } }", {"p": build_id},
         BuildState, {"build_id": build_id, "state_code": 35, "status": "in_progress"}, "id"),
        ("recordFailure(buildId: $p, input: {errorMessage: \"disk full\", stateCode: 35}, "
         "idempotencyKey: $key) { __typename ... on Build { id } }", {"p": build_id},
         BuildState, {"build_id": build_id, "error_message": "disk full"}, "id"),
    ]


def _dig(data: dict, path: str) -> object:
    for part in path.split("."):
        data = data[part]
    return data


async def test_every_creating_mutation_honours_the_key(database, writer) -> None:
    project_id, failed = await factories.seed_failed_build(writer, configure=True)
    for field, params, model, where, id_path in _cases(project_id, str(failed.id)):
        name = field.split("(", 1)[0]
        doc = f"mutation($p: ID!, $key: String) {{ {field} }}"
        variables = {**params, "key": unique("k")}
        first = (await ok(doc, writer, variables))[name]
        assert first["__typename"] not in ("ValidationError", "NotFoundError", "ConflictError"), \
            (name, first)
        before = await model.filter(**where).count()  # type: ignore[attr-defined]
        again = (await ok(doc, writer, variables))[name]
        assert again == first, name
        assert await model.filter(**where).count() == before == 1, name  # type: ignore[attr-defined]
        assert _dig(again, id_path) == _dig(first, id_path)


async def test_a_rest_key_is_not_replayed_to_graphql(client: httpx.AsyncClient) -> None:
    pid, key = unique("gidem"), unique("k")
    rest = await client.post("/projects", json={"id": pid, "name": "one"},
                             headers={"Idempotency-Key": key})
    assert rest.status_code == 201
    answer = await client.post("/graphql", json={
        "query": CREATE_PROJECT, "variables": {"input": {"id": pid, "name": "one"}, "key": key},
    })
    assert answer.status_code == 200
    out = answer.json()["data"]["createProject"]
    assert (out["__typename"], out["code"]) == ("ValidationError", "IDEMPOTENCY_KEY_REUSED")
    # And a GraphQL key is not replayed to REST.
    key2 = unique("k")
    other = unique("gidem")
    first = await client.post("/graphql", json={
        "query": CREATE_PROJECT, "variables": {"input": {"id": other, "name": "x"}, "key": key2},
    })
    assert first.json()["data"]["createProject"]["__typename"] == "Project"
    again = await client.post("/projects", json={"id": other, "name": "x"},
                              headers={"Idempotency-Key": key2})
    assert (again.status_code, again.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")


@pytest.mark.parametrize("with_key", [False, True])
async def test_a_refused_mutation_leaves_no_row(database, writer, with_key: bool) -> None:
    """A create that fails validation writes nothing, with or without a key."""
    pid = await factories.project(writer)
    b = await factories.build(writer, pid)
    before = await Artifact.filter(build_id=b.id).count()
    variables = {"id": str(b.id), "input": {**ARTIFACT, "metadata": "not an object"},
                 "key": unique("k") if with_key else None}
    out = (await ok(REGISTER, writer, variables))["registerArtifact"]
    assert out["__typename"] == "ValidationError"
    assert await Artifact.filter(build_id=b.id).count() == before


async def test_a_duplicate_of_a_running_mutation_is_told_to_retry(
    database, writer, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the first call runs, a duplicate waits up to the setting, then gets CONFLICT."""
    if backend != "postgres":
        pytest.skip("on SQLite the duplicate waits for the first call's write lock instead")
    release = asyncio.Event()
    original = projects.create_project

    async def slow_create(**kwargs):
        await release.wait()
        return await original(**kwargs)

    monkeypatch.setattr(projects, "create_project", slow_create)
    variables = {"input": {"id": unique("gidem"), "name": "slow"}, "key": unique("k")}
    impatient = Context(request=None, actor=writer,
                        settings=Settings(idempotency_wait_seconds=0.2))
    first = asyncio.create_task(ok(CREATE_PROJECT, writer, variables))
    await asyncio.sleep(0.1)
    duplicate = await execute(CREATE_PROJECT, writer, variables, context=impatient)
    release.set()
    assert duplicate.errors and duplicate.errors[0].extensions["code"] == "CONFLICT"
    assert duplicate.errors[0].extensions["retryAfter"] == 1
    assert (await first)["createProject"]["__typename"] == "Project"
    replay = (await ok(CREATE_PROJECT, writer, variables))["createProject"]
    assert replay["__typename"] == "Project"
    assert await Project.filter(id=variables["input"]["id"]).count() == 1
