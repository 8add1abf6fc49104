"""Concurrent writers: one row per variable key, one winner per final move, one artifact per
idempotency key — on SQLite (writes serialize) and on PostgreSQL (row locks, unique indexes)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx

from db.models import Artifact, BuildState, Event, Variable
from tests.conftest import unique


async def _project_and_build(client: httpx.AsyncClient, *, with_states: bool = False) -> str:
    pid = unique("conc")
    assert (await client.post("/projects", json={"id": pid, "name": pid})).status_code == 201
    if with_states:
        for code in (0, 10, 20, 100):
            r = await client.post(f"/projects/{pid}/state-codes", json={
                "code": code, "name": f"s{code}", "is_initial": code == 0, "is_final": code == 100})
            assert r.status_code == 201, r.text
    r = await client.post("/builds", json={"project_id": pid, "build_number": 1})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _with_retries(call, shed: Counter) -> httpx.Response:
    """A well-behaved client: a 503 (pool saturated, lock wait bounded) is retried after its
    Retry-After. Nothing was applied for a 503, so retrying cannot duplicate a write."""
    for _ in range(30):
        answer = await call()
        if answer.status_code != 503:
            return answer
        shed["503"] += 1
        await asyncio.sleep(float(answer.headers["retry-after"]) * random.uniform(0.2, 1.0))
    raise AssertionError("still unavailable after 30 tries")


async def test_500_concurrent_writes_of_one_variable_key_make_one_row(client: httpx.AsyncClient):
    build_id = await _project_and_build(client)
    shed: Counter = Counter()

    async def put(i: int) -> httpx.Response:
        return await _with_retries(lambda: client.post(f"/builds/{build_id}/variables", json={
            "variable_key": "vm_id", "variable_value": f"i-{i:04d}"}), shed)

    answers = await asyncio.gather(*(put(i) for i in range(500)))
    statuses = Counter(r.status_code for r in answers)
    print(f"\n500 concurrent upserts of one key: {dict(statuses)}, shed with 503 first: {shed}")
    assert statuses == {201: 1, 200: 499}, statuses
    rows = await Variable.filter(build_id=build_id, variable_key="vm_id")
    assert len(rows) == 1
    assert rows[0].version == 500  # every write was applied once, none lost
    assert rows[0].variable_value in {f"i-{i:04d}" for i in range(500)}
    assert await Event.filter(build_id=build_id, action="variable.set").count() == 500


async def test_20_concurrent_final_moves_have_one_winner(client: httpx.AsyncClient):
    build_id = await _project_and_build(client, with_states=True)
    assert (await client.post(f"/builds/{build_id}/state",
                              json={"state_code": 10, "status": "completed"})).status_code == 200

    async def finish(i: int) -> httpx.Response:
        return await client.post(f"/builds/{build_id}/state", json={
            "state_code": 100, "status": "completed", "message": f"mover {i}"})

    answers = await asyncio.gather(*(finish(i) for i in range(20)))
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {200: 1, 409: 19}, statuses
    winner = next(r.json() for r in answers if r.status_code == 200)
    assert winner["status"] == "completed"
    assert all(r.json()["code"] == "INVALID_TRANSITION" for r in answers if r.status_code == 409)

    history = (await client.get(f"/builds/{build_id}/states")).json()
    assert [(h["state_code"], h["status"]) for h in history] == [(10, "completed"),
                                                                  (100, "completed")]
    build = (await client.get(f"/builds/{build_id}")).json()
    assert (build["status"], build["current_state"], build["version"]) == ("completed", 100, 3)
    assert await Event.filter(build_id=build_id, action="build.completed").count() == 1


async def test_20_concurrent_moves_all_apply_in_one_consistent_order(client: httpx.AsyncClient):
    build_id = await _project_and_build(client)

    async def move(code: int) -> httpx.Response:
        return await client.post(f"/builds/{build_id}/state",
                                  json={"state_code": code, "status": "in_progress"})

    answers = await asyncio.gather(*(move(code) for code in range(1, 21)))
    assert {r.status_code for r in answers} == {200}
    # Each answer saw a distinct version: the moves were serialized, none overwrote another.
    assert sorted(r.json()["version"] for r in answers) == list(range(2, 22))
    entries = await BuildState.filter(build_id=build_id).order_by("created_at", "id")
    assert sorted(e.state_code for e in entries) == list(range(1, 21))
    build = (await client.get(f"/builds/{build_id}")).json()
    last_answer = max(answers, key=lambda r: r.json()["version"]).json()
    assert build["current_state"] == last_answer["current_state"] == entries[-1].state_code
    assert build["version"] == 21


async def test_50_concurrent_posts_with_one_idempotency_key_make_one_artifact(
    client: httpx.AsyncClient,
):
    build_id = await _project_and_build(client)
    body = {"state_code": 10, "artifact_name": "snap-1", "artifact_type": "vm_snapshot",
            "artifact_path": "s3://bucket/snap-1.vmdk"}
    key = unique("idem")

    async def register() -> httpx.Response:
        return await client.post(f"/builds/{build_id}/artifacts", json=body,
                                  headers={"Idempotency-Key": key})

    answers = await asyncio.gather(*(register() for _ in range(50)))
    assert Counter(r.status_code for r in answers) == {201: 50}
    assert len({r.json()["id"] for r in answers}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in answers) == 49
    assert await Artifact.filter(build_id=build_id).count() == 1
