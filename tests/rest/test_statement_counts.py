"""SQL statements per request, pinned: a constant per call, whatever the size of the answer.

Counted two ways: the ORM's statements (`counting_statements`, both databases; not BEGIN and
COMMIT) and, on PostgreSQL, the `X-SQL-Statements` header (BUILDSTATE_COUNT_SQL=1: every round
trip, transactions included). The API key is looked up once and then cached for a few seconds
(app.services.keys), so each test warms it with one request first: auth costs no statement.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.services import artifacts, variables
from app.services.commands import RegisterArtifact, SetVariable
from app.settings import Settings
from db.models import Artifact, Variable
from tests import factories as f
from tests.conftest import WRITE_KEY, unique
from tests.graphql.test_query_count import counting_statements

READ = """query($id: ID!) { build(id: $id) { resumeContext {
  buildId currentState lastSuccessfulState failedState resumeFromState canResume blockers
  missingArtifacts missingVariables
  artifacts { id artifactName artifactType stateCode artifactPath metadata createdAt expiresAt }
  variables { key value }
  resumableStateConfig { stateCode requiredArtifacts requiredVariables }
} } }"""
WRITE = """mutation($b: ID!, $i: RegisterArtifactInput!) { registerArtifact(buildId: $b, input: $i) {
  __typename ... on Artifact { id } ... on Error { code message } } }"""
PAGE = """query($p: ID!) { builds(projectId: $p, first: 50) { edges { node {
  id status artifacts { id } variables { key } resumeContext { canResume resumeFromState } } } } }"""


def art(name: str, **kw) -> RegisterArtifact:
    return RegisterArtifact(**({"state_code": 20, "artifact_name": name, "artifact_type": "vm_snapshot",
                                "artifact_path": f"s3://b/{name}"} | kw))


async def _build_with(writer, pid: str, n_artifacts: int, n_variables: int = 3) -> str:
    """A build with artifacts and variables: two through the services, the rest in bulk (the
    session's event log is read whole by the webhook sender tests: no thousands of events)."""
    b = await f.build(writer, pid)
    await artifacts.register_artifact(actor=writer, build_id=str(b.id), command=art("a0"))
    await variables.set_variable(actor=writer, build_id=str(b.id), command=SetVariable(
        variable_key="v0", variable_value="x", is_sensitive=True))
    await Artifact.bulk_create([
        Artifact(build_id=b.id, **art(f"a{i}").model_dump()) for i in range(1, n_artifacts)
    ])
    await Variable.bulk_create([
        Variable(build_id=b.id, variable_key=f"v{i}", variable_value="x")
        for i in range(1, n_variables)
    ])
    return str(b.id)


@pytest.fixture
async def counted(database: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The application with BUILDSTATE_COUNT_SQL=1."""
    from app.main import create_app

    app = create_app(database.model_copy(update={"count_sql": True}), manage_db=False)
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver",
                                     headers={"X-API-Key": WRITE_KEY}) as http:
            assert (await http.get("/health")).status_code == 200
            yield http


async def _count(http: httpx.AsyncClient, monkeypatch, method: str, path: str, **kw):
    await http.get("/projects")  # the key lookup, cached from here on
    with counting_statements(monkeypatch) as seen:
        answer = await http.request(method, path, **kw)
    assert answer.status_code < 300, answer.text
    return answer, seen


def _header(answer: httpx.Response, backend: str) -> int | None:
    value = answer.headers.get("x-sql-statements")
    if backend == "sqlite":
        assert value is None  # only the PostgreSQL client counts
        return None
    assert value is not None
    return int(value)


async def test_resume_context_is_one_statement_whatever_its_size(
    database, counted, writer, backend, monkeypatch
) -> None:
    pid = await f.project(writer)
    small, large = await _build_with(writer, pid, 10), await _build_with(writer, pid, 200, 30)
    for build_id, n in ((small, 10), (large, 200)):
        answer, seen = await _count(counted, monkeypatch, "GET", f"/builds/{build_id}/resume-context")
        assert len(answer.json()["artifacts"]) == n
        assert len(seen) == 1, seen
        assert _header(answer, backend) in (None, 1)


async def test_graphql_resume_context_is_one_statement(
    database, counted, writer, backend, monkeypatch
) -> None:
    pid = await f.project(writer)
    for n in (10, 200):
        build_id = await _build_with(writer, pid, n)
        answer, seen = await _count(counted, monkeypatch, "POST", "/graphql",
                                    json={"query": READ, "variables": {"id": build_id}})
        body = answer.json()
        assert "errors" not in body, body
        assert len(body["data"]["build"]["resumeContext"]["artifacts"]) == n
        assert len(seen) == 1, seen  # the build and its resume context, together
        assert _header(answer, backend) in (None, 1)
    # Without resumeContext in the selection, the build alone (one statement, no context).
    answer, seen = await _count(counted, monkeypatch, "POST", "/graphql", json={
        "query": "query($id: ID!) { build(id: $id) { id status } }", "variables": {"id": build_id}})
    assert answer.json()["data"]["build"]["id"] == build_id
    assert len(seen) == 1 and "build_artifacts" not in seen[0], seen
    # Through a fragment, and with an unknown id: one statement, null.
    doc = ("query($id: ID!) { build(id: $id) { ...B } } "
           "fragment B on Build { id resumeContext { canResume } }")
    for ident in (build_id, "00000000-0000-0000-0000-000000000000"):
        answer, seen = await _count(counted, monkeypatch, "POST", "/graphql",
                                    json={"query": doc, "variables": {"id": ident}})
        assert len(seen) == 1, seen
    assert answer.json()["data"]["build"] is None


async def test_build_get_is_one_statement(database, counted, writer, backend, monkeypatch) -> None:
    pid = await f.project(writer)
    build_id = await _build_with(writer, pid, 2)
    answer, seen = await _count(counted, monkeypatch, "GET", f"/builds/{build_id}")
    assert answer.json()["id"] == build_id
    assert len(seen) == 1, seen
    assert _header(answer, backend) in (None, 1)


async def test_list_of_builds_is_constant_in_its_length(
    database, counted, writer, backend, monkeypatch
) -> None:
    counts = []
    for n in (3, 12):
        pid = await f.project(writer)
        for _ in range(n):
            await _build_with(writer, pid, 2, 1)
        answer, seen = await _count(counted, monkeypatch, "GET", f"/builds?project_id={pid}")
        assert len(answer.json()) == n
        counts.append((len(seen), _header(answer, backend)))
        answer, seen = await _count(counted, monkeypatch, "POST", "/graphql",
                                    json={"query": PAGE, "variables": {"p": pid}})
        assert len(answer.json()["data"]["builds"]["edges"]) == n
        counts.append((len(seen), _header(answer, backend)))
    assert counts[0] == counts[2] and counts[1] == counts[3], counts
    assert counts[0][0] == 1, counts  # REST: the page
    assert counts[1][0] == 4, counts  # GraphQL: the page, artifacts, variables, resume contexts


async def test_register_artifact_is_one_statement_on_postgres(
    database, counted, writer, backend, monkeypatch
) -> None:
    pid = await f.project(writer)
    build_id = await _build_with(writer, pid, 5)
    body = {"state_code": 20, "artifact_name": "new-1", "artifact_type": "vm_snapshot",
            "artifact_path": "s3://b/new-1", "metadata": {"k": "v"}}
    answer, seen = await _count(counted, monkeypatch, "POST", f"/builds/{build_id}/artifacts",
                                json=body)
    # PostgreSQL: ONE statement (the build check, the artifact, its event row and NOTIFY), sent
    # in autocommit: no BEGIN/COMMIT either, the header counts 1 round trip in all.
    # SQLite: the build, then the artifact and its event row in a transaction.
    expected = 1 if backend == "postgres" else 3
    assert len(seen) == expected, seen
    assert _header(answer, backend) == (1 if backend == "postgres" else None)

    # The same name again: refused (PostgreSQL: the statement inserts nothing, no error, no
    # transaction to roll back), then the read that names the existing artifact. SQLite: the
    # build, the INSERT that fails, the read.
    with counting_statements(monkeypatch) as seen:
        refused = await counted.post(f"/builds/{build_id}/artifacts", json=body)
    assert refused.status_code == 409 and answer.json()["id"] in refused.text, refused.text
    assert len(seen) == (2 if backend == "postgres" else 3), seen
    assert _header(refused, backend) == (2 if backend == "postgres" else None)

    gql_input = {"stateCode": 20, "artifactName": "new-2", "artifactType": "vm_snapshot",
                 "artifactPath": "s3://b/new-2"}
    answer, seen = await _count(counted, monkeypatch, "POST", "/graphql",
                                json={"query": WRITE, "variables": {"b": build_id, "i": gql_input}})
    assert answer.json()["data"]["registerArtifact"]["__typename"] == "Artifact", answer.text
    assert len(seen) == expected, seen
    assert _header(answer, backend) == (1 if backend == "postgres" else None)


async def test_register_artifact_under_an_idempotency_key(
    database, counted, writer, backend, monkeypatch
) -> None:
    """Under a key the write joins the key's transaction (its connection, no savepoint): the key
    claimed (its own statement), BEGIN, the write, the answer kept, COMMIT."""
    pid = await f.project(writer)
    build_id = await _build_with(writer, pid, 1)
    body = {"state_code": 20, "artifact_name": "keyed", "artifact_type": "vm_snapshot",
            "artifact_path": "s3://b/keyed"}
    answer, seen = await _count(counted, monkeypatch, "POST", f"/builds/{build_id}/artifacts",
                                json=body, headers={"Idempotency-Key": unique("k")})
    assert answer.status_code == 201, answer.text
    # The claim, the write (PostgreSQL: 1; SQLite: the build, the artifact, its event), the
    # answer kept.
    expected = 3 if backend == "postgres" else 5
    assert len(seen) == expected, seen
    assert _header(answer, backend) == (expected + 2 if backend == "postgres" else None)
