"""Idempotency-Key on REST POSTs: replay, mismatch, scope per credential, expiry, release."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import httpx
import pytest

from app.services import idempotency
from app.services.common import utcnow
from app.services.errors import Conflict, ValidationFailed
from db.models import IdempotencyKey, Project
from tests.conftest import ADMIN_KEY, make_actor, unique


def _project(pid: str, name: str = "one") -> dict:
    return {"id": pid, "name": name}


async def test_same_key_and_body_replays_the_first_answer(client: httpx.AsyncClient):
    pid, key = unique("idem"), unique("k")
    first = await client.post("/projects", json=_project(pid), headers={"Idempotency-Key": key})
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    # Same content, other key order and spacing: the same request.
    again = await client.post("/projects", content=f'{{ "name": "one", "id": "{pid}" }}',
                              headers={"Idempotency-Key": key, "Content-Type": "application/json"})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    # Without the key the same body is a new request: a duplicate project.
    assert (await client.post("/projects", json=_project(pid))).status_code == 409
    assert await Project.filter(id=pid).count() == 1


async def test_same_key_with_another_body_or_path_is_a_422(client: httpx.AsyncClient):
    pid, key = unique("idem"), unique("k")
    assert (await client.post("/projects", json=_project(pid),
                              headers={"Idempotency-Key": key})).status_code == 201
    other = await client.post("/projects", json=_project(pid, "two"),
                              headers={"Idempotency-Key": key})
    assert other.status_code == 422
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert "Idempotency-Key" in other.json()["detail"]
    elsewhere = await client.post("/builds", json={"project_id": pid, "build_number": 1},
                                  headers={"Idempotency-Key": key})
    assert elsewhere.status_code == 422
    assert (await Project.get(id=pid)).name == "one"


async def test_error_answers_are_kept_too(client: httpx.AsyncClient):
    key = unique("k")
    body = {"project_id": "no-such-project", "build_number": 1}
    first = await client.post("/builds", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 404
    again = await client.post("/builds", json=body, headers={"Idempotency-Key": key})
    assert (again.status_code, again.json()) == (404, first.json())
    assert again.headers["idempotent-replayed"] == "true"


async def test_keys_belong_to_the_credential(client: httpx.AsyncClient):
    key = unique("k")
    a, b = unique("idem"), unique("idem")
    assert (await client.post("/projects", json=_project(a),
                              headers={"Idempotency-Key": key})).status_code == 201
    # Another credential using the same key string makes its own request.
    theirs = await client.post("/projects", json=_project(b),
                               headers={"Idempotency-Key": key, "X-API-Key": ADMIN_KEY})
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] == b


async def test_keys_expire_after_the_ttl(client: httpx.AsyncClient):
    pid, key = unique("idem"), unique("k")
    assert (await client.post("/projects", json=_project(pid),
                              headers={"Idempotency-Key": key})).status_code == 201
    await IdempotencyKey.filter(key=key).update(created_at=utcnow() - timedelta(hours=25))
    # Expired: the key is free again, and the request runs anew (here: a duplicate project).
    late = await client.post("/projects", json=_project(pid), headers={"Idempotency-Key": key})
    assert late.status_code == 409 and "idempotent-replayed" not in late.headers
    assert await IdempotencyKey.filter(key=key).count() == 1
    assert await idempotency.purge_expired(ttl_seconds=0) >= 1


async def test_bad_keys_and_uncovered_paths(client: httpx.AsyncClient):
    too_long = await client.post("/projects", json=_project(unique("idem")),
                                 headers={"Idempotency-Key": "x" * 256})
    assert too_long.status_code == 422
    # /auth/* answers carry secrets: never stored, so the header is ignored there.
    key = unique("k")
    t1 = await client.post("/auth/token", headers={"Idempotency-Key": key})
    t2 = await client.post("/auth/token", headers={"Idempotency-Key": key})
    assert t1.status_code == t2.status_code == 200
    assert t1.json()["access_token"] != t2.json()["access_token"]
    assert not await IdempotencyKey.filter(key=key).exists()
    # A denied caller claims nothing.
    anonymous = await client.post("/projects", json=_project(unique("idem")),
                                  headers={"Idempotency-Key": key, "X-API-Key": ""})
    assert anonymous.status_code == 401
    assert not await IdempotencyKey.filter(key=key).exists()


async def test_service_release_stale_and_in_progress(database):
    actor = make_actor("idem-service", "write")
    args = dict(actor=actor, method="POST", path="/x", ttl_seconds=3600)
    key = unique("k")
    claim = await idempotency.claim(key=key, digest="a", wait_seconds=1, **args)
    assert isinstance(claim, idempotency.Claim)
    # In flight: a duplicate waits, then is told to retry.
    with pytest.raises(Conflict):
        await idempotency.claim(key=key, digest="a", wait_seconds=0.2, **args)
    with pytest.raises(ValidationFailed):
        await idempotency.claim(key=key, digest="b", wait_seconds=0.2, **args)
    # A failed request releases the key: the retry owns it.
    await idempotency.release(claim=claim)
    retry = await idempotency.claim(key=key, digest="a", wait_seconds=1, **args)
    assert isinstance(retry, idempotency.Claim) and retry.id != claim.id
    # Abandoned by a dead process: taken over after `stale_after`.
    await IdempotencyKey.filter(id=retry.id).update(created_at=utcnow() - timedelta(minutes=5))
    taken = await idempotency.claim(key=key, digest="a", wait_seconds=1, stale_after=60, **args)
    assert isinstance(taken, idempotency.Claim) and taken.id != retry.id
    await idempotency.complete(claim=taken, status_code=201, body='{"ok": true}')
    replay = await idempotency.claim(key=key, digest="a", wait_seconds=1, **args)
    assert replay == idempotency.Replay(201, '{"ok": true}')


# The work and its answer are one transaction (app.services.idempotency.run_once). The work
# below inserts a bare row: a rolled-back audit event would leave a gap in the event ids, which
# the webhook sender of later tests would wait out (event_gap_seconds).

def _args(actor, key: str) -> dict:
    return dict(actor=actor, key=key, method="POST", path="/projects", digest="d",
                ttl_seconds=3600, wait_seconds=1)


async def test_a_failed_request_leaves_neither_its_change_nor_its_key(database):
    actor, key, pid = make_actor("idem-atomic", "write"), unique("k"), unique("idem")

    async def write_then_fail() -> idempotency.Answer:
        await Project.create(id=pid, name="x")
        raise RuntimeError("failed after the write")

    with pytest.raises(RuntimeError):
        await idempotency.run_once(work=write_then_fail, **_args(actor, key))
    assert not await Project.filter(id=pid).exists()
    assert not await IdempotencyKey.filter(key=key).exists()

    async def write_then_503() -> idempotency.Answer:  # an answer that is not kept
        await Project.create(id=pid, name="x")
        return idempotency.Answer(503, "{}", keep=False)

    answer, replayed = await idempotency.run_once(work=write_then_503, **_args(actor, key))
    assert (answer.status_code, replayed) == (503, False)
    assert not await Project.filter(id=pid).exists()
    assert not await IdempotencyKey.filter(key=key).exists()


async def test_a_process_that_dies_mid_request_applies_nothing_and_the_retry_runs_once(
    database, monkeypatch: pytest.MonkeyPatch
):
    actor, key, pid = make_actor("idem-atomic", "write"), unique("k"), unique("idem")
    calls = 0

    async def create() -> idempotency.Answer:
        nonlocal calls
        calls += 1
        await Project.create(id=pid, name="x")
        if calls == 1:
            raise SystemExit("killed between the change and its answer")
        return idempotency.Answer(201, f'{{"id": "{pid}"}}')

    async def nothing(record) -> None:  # a dead process frees nothing
        return None

    with monkeypatch.context() as m:
        m.setattr(idempotency, "settle", nothing)
        with pytest.raises(SystemExit):
            await idempotency.run_once(work=create, **_args(actor, key))
    row = await IdempotencyKey.get(key=key)
    assert row.status_code is None  # left "in flight" …
    assert not await Project.filter(id=pid).exists()  # … with nothing applied
    await IdempotencyKey.filter(id=row.id).update(created_at=utcnow() - timedelta(minutes=5))
    answer, replayed = await idempotency.run_once(work=create, **_args(actor, key))
    assert (answer.status_code, replayed) == (201, False)
    again, replayed = await idempotency.run_once(work=create, **_args(actor, key))
    assert (again, replayed) == (answer, True)
    assert calls == 2 and await Project.filter(id=pid).count() == 1


async def test_a_request_whose_key_was_taken_over_is_rolled_back(database):
    actor, key, pid = make_actor("idem-atomic", "write"), unique("k"), unique("idem")

    async def slow_create() -> idempotency.Answer:
        await Project.create(id=pid, name="x")
        # Meanwhile a retry took the stale key over and answered it.
        await IdempotencyKey.filter(key=key).update(status_code=409, response_body="{}")
        return idempotency.Answer(201, "{}")

    with pytest.raises(idempotency.KeyTakenOver):
        await idempotency.run_once(work=slow_create, **_args(actor, key))
    assert not await Project.filter(id=pid).exists()


async def test_the_rest_answer_is_sent_after_the_commit(database):
    """The middleware sends nothing before the change and its answer are committed."""
    from app.idempotency import IdempotencyMiddleware

    actor, key, pid = make_actor("idem-atomic", "write"), unique("k"), unique("idem")
    seen: list[int | None] = []

    async def app(scope, receive, send) -> None:
        await receive()
        await Project.create(id=pid, name="x")
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            row = await IdempotencyKey.get(key=key)
            seen.append(row.status_code)
            seen.append(await Project.filter(id=pid).count())

    scope = {"type": "http", "method": "POST", "path": "/projects",
             "headers": [(b"idempotency-key", key.encode())],
             "user": SimpleNamespace(actor=actor)}
    await IdempotencyMiddleware(app, database)(scope, receive, send)
    assert seen == [201, 1]

    async def broken(scope, receive, send) -> None:
        await Project.create(id=pid + "-b", name="x")
        raise RuntimeError("a bug after the write")

    other = unique("k")
    scope["headers"] = [(b"idempotency-key", other.encode())]
    with pytest.raises(RuntimeError):
        await IdempotencyMiddleware(broken, database)(scope, receive, send)
    assert not await Project.filter(id=pid + "-b").exists()
    assert not await IdempotencyKey.filter(key=other).exists()


async def test_answers_with_a_signing_secret_are_never_stored(database):
    """A webhook subscription's answer carries its secret once: it is not kept in the key table."""
    from tests.conftest import ADMIN_KEY
    from tests.hardening.conftest import serve

    key = unique("k")
    async with serve(database, key=ADMIN_KEY) as http:
        body = {"name": unique("hook"), "url": "http://127.0.0.1:9/hook", "events": ["*"]}
        created = await http.post("/webhook-subscriptions", json=body,
                                  headers={"Idempotency-Key": key})
        assert created.status_code == 201 and created.json()["secret"]
        await http.delete(f"/webhook-subscriptions/{created.json()['id']}")
    assert not await IdempotencyKey.filter(key=key).exists()


async def test_a_refusal_whose_transaction_failed_is_still_kept(database):
    """On PostgreSQL a failed statement aborts the transaction; a 4xx made of it is kept alone."""
    from tortoise.exceptions import IntegrityError

    actor, key, pid = make_actor("idem-atomic", "write"), unique("k"), unique("idem")
    await Project.create(id=pid, name="x")
    calls = 0

    async def duplicate() -> idempotency.Answer:
        nonlocal calls
        calls += 1
        try:
            await Project.create(id=pid, name="again")  # no savepoint: aborts on PostgreSQL
        except IntegrityError:
            return idempotency.Answer(409, '{"detail": "exists"}')
        return idempotency.Answer(201, "{}")

    answer, replayed = await idempotency.run_once(work=duplicate, **_args(actor, key))
    assert (answer.status_code, replayed) == (409, False)
    again, replayed = await idempotency.run_once(work=duplicate, **_args(actor, key))
    assert (again, replayed, calls) == (answer, True, 1)


async def test_a_not_kept_answer_whose_rollback_failed_frees_the_key(
    database, monkeypatch: pytest.MonkeyPatch
):
    actor, key = make_actor("idem-atomic", "write"), unique("k")

    class BrokenTransaction:
        async def __aenter__(self):
            return None

        async def __aexit__(self, *exc):
            raise ConnectionError("the connection died during ROLLBACK")

    monkeypatch.setattr(idempotency, "in_transaction", BrokenTransaction)

    async def unavailable() -> idempotency.Answer:
        return idempotency.Answer(503, "{}", keep=False)

    answer, replayed = await idempotency.run_once(work=unavailable, **_args(actor, key))
    assert (answer.status_code, replayed) == (503, False)
    assert not await IdempotencyKey.filter(key=key).exists()
