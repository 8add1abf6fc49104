"""The GraphQL side: Build.events (batched), auditEvents, stats, subscriptions, metrics."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from app.services import resume
from app.services.commands import RequestResume
from schema.schema import schema
from tests import factories as f
from tests.conftest import make_actor, unique
from tests.graphql.support import context_for, ok
from tests.graphql.test_query_count import counting_statements
from tests.observability.test_live import subscribed
from tests.observability.test_stats import scenario  # noqa: F401 - a fixture

WHO_RESUMED = """
query WhoResumed($id: ID!) {
  build(id: $id) { events(action: "resume.requested") { actor createdAt reason data } }
}
"""

PAGE = """
query Page($project: ID!) {
  builds(projectId: $project, first: 20) { edges { node { buildNumber events { id action } } } }
}
"""

AUDIT = """
query Audit($filter: EventFilter, $after: String) {
  auditEvents(filter: $filter, first: 2, after: $after) {
    edges { cursor node { id action actor buildId } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

STATS = """
query Stats($project: ID, $since: DateTime) {
  stats(projectId: $project, since: $since) {
    buildsByStatus { status count }
    failuresByState { stateCode stateName count }
    resumeSuccessRate medianTimeToResumeSeconds buildMinutesSaved resumesStarted
    resumeSuccessByDay { day completed failed rate }
  }
}
"""


async def test_who_resumed_this_build_is_one_query(database, writer, reader):
    _, build = await f.seed_failed_build(writer)
    await resume.request_resume(actor=make_actor("bob", "write"), build_id=str(build.id),
                                command=RequestResume(resume_reason="quota raised"))
    data = await ok(WHO_RESUMED, reader, {"id": str(build.id)})
    [event] = data["build"]["events"]
    assert event["actor"] == "bob" and event["reason"] == "quota raised"
    assert event["data"]["resume_from_state"] == 35 and event["createdAt"]


async def test_build_events_are_batched(database, writer, reader, monkeypatch):
    pid = await f.project(writer)
    for n in range(1, 4):
        b = await f.build(writer, pid, n)
        await f.move(writer, b.id, 10)
    with counting_statements(monkeypatch) as few:
        data = await ok(PAGE, reader, {"project": pid})
    assert [len(e["node"]["events"]) for e in data["builds"]["edges"]] == [2, 2, 2]
    for n in range(4, 10):
        await f.build(writer, pid, n)
    with counting_statements(monkeypatch) as more:
        data = await ok(PAGE, reader, {"project": pid})
    assert len(data["builds"]["edges"]) == 9
    assert len(more) == len(few), (few, more)


async def test_audit_events_pages_through_a_filter(database, writer, reader):
    _, build = await f.seed_failed_build(writer)
    ids, after = [], None
    while True:
        data = (await ok(AUDIT, reader, {"filter": {"buildId": str(build.id)}, "after": after}))["auditEvents"]
        ids += [int(e["node"]["id"]) for e in data["edges"]]
        assert all(e["node"]["buildId"] == str(build.id) for e in data["edges"])
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert ids == sorted(ids) and len(ids) == 10
    data = await ok(AUDIT, reader, {"filter": {"buildId": str(build.id), "action": "build.failed"}})
    assert [e["node"]["action"] for e in data["auditEvents"]["edges"]] == ["build.failed"]


async def test_stats_match_the_rest_summary(scenario, reader, client):  # noqa: F811
    data = (await ok(STATS, reader, {"project": scenario}))["stats"]
    assert data["buildMinutesSaved"] == pytest.approx(55.0)
    assert data["resumeSuccessRate"] == 0.5
    assert data["medianTimeToResumeSeconds"] == pytest.approx(1140.0)
    assert data["resumesStarted"] == 2
    assert {c["status"]: c["count"] for c in data["buildsByStatus"]}["failed"] == 2
    assert [(c["stateCode"], c["count"]) for c in data["failuresByState"]] == [(20, 3), (35, 1)]
    assert data["resumeSuccessByDay"][0] == {"day": "2026-01-05", "completed": 1, "failed": 0, "rate": 1.0}
    rest = (await client.get("/dashboard/summary", params={"project_id": scenario})).json()
    assert rest["build_minutes_saved"] == data["buildMinutesSaved"]
    assert rest["median_time_to_resume_seconds"] == data["medianTimeToResumeSeconds"]


async def test_a_subscription_streams_a_build_in_order(database, writer, reader):
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    doc = "subscription S($id: ID!) { buildEvents(buildId: $id, afterId: \"0\") { id action actor } }"
    stream = await schema.subscribe(doc, variable_values={"id": str(build.id)},
                                    context_value=context_for(reader))
    first = await asyncio.wait_for(stream.__anext__(), 10)  # replayed: build.created
    assert first.errors is None and first.data["buildEvents"]["action"] == "build.created"
    await subscribed(1)
    await f.move(writer, build.id, 10, "in_progress")
    await f.move(writer, build.id, 10, "completed")
    got = [await asyncio.wait_for(stream.__anext__(), 10) for _ in range(2)]
    assert [r.data["buildEvents"]["action"] for r in got] == ["build.state_changed"] * 2
    ids = [int(r.data["buildEvents"]["id"]) for r in [first, *got]]
    assert ids == sorted(ids) and got[0].data["buildEvents"]["actor"] == "writer"
    await stream.aclose()


async def test_subscriptions_need_a_credential(database, writer):
    pid = await f.project(writer)
    doc = "subscription { resumeRequestUpdates(projectId: \"%s\") { event { id } } }" % pid
    stream = await schema.subscribe(doc, context_value=context_for(None))
    result = await asyncio.wait_for(stream.__anext__(), 10)
    assert result.errors and result.errors[0].extensions["code"] == "UNAUTHENTICATED"


async def _ended_by_the_credential_check(stream) -> str:
    """Reads until the stream ends; its last result is the error that ended it."""
    results = []
    while True:
        try:
            results.append(await asyncio.wait_for(stream.__anext__(), 10))
        except StopAsyncIteration:
            break
    last = results[-1]
    assert last.data is None and last.errors and len(last.errors) == 1, last
    assert last.errors[0].extensions["code"] == "UNAUTHENTICATED", last.errors[0].formatted
    assert all(r.errors is None for r in results[:-1])
    return last.errors[0].message


async def test_a_revoked_key_ends_its_subscriptions(database, writer, admin):
    from app.services import keys

    created = await keys.create_key(actor=admin, name=f"sub-{unique()}", scopes=["read"])
    actor = await keys.authenticate_key(created.plain)
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    context = context_for(actor)
    context.connection_params = {"X-API-Key": created.plain}
    context.settings = replace_settings(context.settings, subscription_auth_check_seconds=0.2)
    doc = "subscription S($id: ID!) { buildEvents(buildId: $id, afterId: \"0\") { id action } }"
    stream = await schema.subscribe(doc, variable_values={"id": str(build.id)}, context_value=context)
    first = await asyncio.wait_for(stream.__anext__(), 10)
    assert first.errors is None and first.data["buildEvents"]["action"] == "build.created"
    await asyncio.sleep(0.5)  # several checks pass while the key is good
    await keys.revoke_key(actor=admin, key_id=str(created.key.id))
    message = await _ended_by_the_credential_check(stream)
    assert "revoked" in message


async def test_an_expired_token_ends_its_subscriptions(database, writer):
    import time

    import jwt

    settings = replace_settings(context_for(None).settings, subscription_auth_check_seconds=0.2)
    now = int(time.time())
    token = jwt.encode({"sub": "short-lived", "scopes": ["read"], "iat": now, "exp": now + 1,
                        "iss": settings.jwt_issuer}, settings.secret_key, algorithm="HS256")
    pid = await f.project(writer)
    context = context_for(make_actor("short-lived", "read"))
    context.connection_params = {"Authorization": f"Bearer {token}"}
    context.settings = settings
    doc = "subscription { resumeRequestUpdates(projectId: \"%s\") { event { id } } }" % pid
    stream = await schema.subscribe(doc, context_value=context)
    message = await _ended_by_the_credential_check(stream)
    assert "expired" in message


def replace_settings(settings, **changes):
    return settings.model_copy(update=changes)


async def test_graphql_operations_are_counted_by_name(database, reader):
    def count(outcome: str) -> float:
        return REGISTRY.get_sample_value("buildstate_graphql_operations_total", {
            "operation": "CountMe", "type": "query", "outcome": outcome}) or 0.0

    ok_before, err_before = count("ok"), count("error")
    await ok("query CountMe { projects(first: 1) { id } }", reader)
    await schema.execute("query CountMe { projects(first: 0) { id } }", context_value=context_for(reader))
    assert count("ok") == ok_before + 1 and count("error") == err_before + 1
    assert REGISTRY.get_sample_value("buildstate_graphql_operation_duration_seconds_count",
                                     {"operation": "CountMe", "type": "query"}) >= 2
