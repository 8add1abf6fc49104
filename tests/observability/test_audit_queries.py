"""Reading the audit trail: filters, keyset pages, "who resumed this build, when and why"."""

from __future__ import annotations

import pytest

from app.services import audit, keys, resume
from app.services.commands import RequestResume
from app.services.errors import ValidationFailed
from tests import factories as f
from tests.conftest import ADMIN_KEY, READ_KEY, make_actor, unique


async def test_who_resumed_this_build_when_and_why(database, writer):
    operator = make_actor("alice", "write")
    _, build = await f.seed_failed_build(writer)
    await resume.request_resume(
        actor=operator, build_id=str(build.id),
        command=RequestResume(resume_reason="network timeout on the mirror", requested_by="Alice B."),
    )
    [record] = await audit.resume_history(actor=writer, build_id=str(build.id))
    assert (record.actor, record.requested_by, record.reason) == (
        "alice", "Alice B.", "network timeout on the mirror")
    assert record.resume_from_state == 35 and record.request_source == "api"
    assert record.requested_at is not None and record.request_id == "test"


async def test_filters_and_keyset_pages(database, writer, reader):
    pid, build = await f.seed_failed_build(writer)
    every = await audit.build_events(actor=reader, build_id=str(build.id), limit=1000)
    assert [e.id for e in every] == sorted(e.id for e in every)
    assert {e.action for e in every} >= {"build.created", "build.state_changed", "build.failed",
                                         "artifact.registered", "variable.set"}

    seen, after = [], None
    while True:
        page = await audit.list_events(
            actor=reader, filter=audit.EventFilter(build_id=build.id), first=3, after=after)
        seen += [e.id for e in page.events]
        if not page.has_next:
            break
        after = page.end_cursor
    assert seen == [e.id for e in every]

    newest = await audit.list_events(
        actor=reader, filter=audit.EventFilter(project_id=pid), first=2, newest_first=True)
    assert [e.id for e in newest.events] == sorted((e.id for e in every), reverse=True)[:2]

    states = await audit.list_events(
        actor=reader, filter=audit.EventFilter(build_id=str(build.id), action="build.*"), first=100)
    assert states.events and all(e.action.startswith("build.") for e in states.events)
    by_actor = await audit.list_events(
        actor=reader, filter=audit.EventFilter(build_id=str(build.id), actor="nobody"), first=10)
    assert by_actor.events == []
    malformed = await audit.list_events(actor=reader, filter=audit.EventFilter(build_id="nope"))
    assert malformed.events == [] and not malformed.has_next
    with pytest.raises(ValidationFailed):
        await audit.list_events(actor=reader, after="not-a-cursor")


async def test_key_management_is_visible_to_admins_only(database, admin, reader):
    name = unique("key")
    await keys.create_key(actor=admin, name=name, scopes=["read"])
    f_ = audit.EventFilter(action="api_key.created")
    admin_view = await audit.list_events(actor=admin, filter=f_, first=500, newest_first=True)
    assert any(e.data.get("name") == name for e in admin_view.events)
    assert (await audit.list_events(actor=reader, filter=f_, first=500)).events == []


async def test_rest_event_routes(database, client, writer):
    _, build = await f.seed_failed_build(writer)
    await resume.request_resume(actor=writer, build_id=str(build.id),
                                command=RequestResume(resume_reason="flaky runner"))
    reader = {"X-API-Key": READ_KEY}
    r = await client.get(f"/builds/{build.id}/events", params={"action": "resume.requested"},
                         headers=reader)
    assert r.status_code == 200
    [event] = r.json()
    assert event["actor"] == "writer" and event["reason"] == "flaky runner"

    r = await client.get("/events", params={"build_id": str(build.id), "first": 2}, headers=reader)
    body = r.json()
    assert r.status_code == 200 and len(body["events"]) == 2 and body["has_next"]
    r2 = await client.get("/events", params={"build_id": str(build.id), "first": 2,
                                             "after": body["end_cursor"]}, headers=reader)
    assert r2.json()["events"][0]["id"] > body["events"][1]["id"]
    r = await client.get("/events", params={"actor": "writer", "action": "resume.*",
                                            "build_id": str(build.id)}, headers={"X-API-Key": ADMIN_KEY})
    assert [e["action"] for e in r.json()["events"]] == ["resume.requested"]
    assert (await client.get("/events", headers={"X-API-Key": ""})).status_code == 401
