"""Several service processes on one database: a subscription on one process receives, in order
and exactly once, the events written through another; on PostgreSQL it also catches up after
its listener's connection is killed. And /metrics adds up the workers of a multi-process server."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PG_ADMIN_DSN, READ_KEY, WRITE_KEY, unique
from tests.observability.servers import GraphQLSocket, serve, start, stop

SUBSCRIBE = """subscription Follow($id: ID!, $after: ID) {
  buildEvents(buildId: $id, afterId: $after) { id action actor }
}"""
WRITE = {"X-API-Key": WRITE_KEY}


async def _new_build(http: httpx.AsyncClient, base: str) -> str:
    pid = unique("proc")
    assert (await http.post(f"{base}/projects", json={"id": pid, "name": pid}, headers=WRITE)).status_code == 201
    r = await http.post(f"{base}/builds", json={"project_id": pid, "build_number": 7}, headers=WRITE)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _move(http: httpx.AsyncClient, base: str, build_id: str, code: int, status: str) -> None:
    r = await http.post(f"{base}/builds/{build_id}/state", headers=WRITE,
                        json={"state_code": code, "status": status})
    assert r.status_code == 200, r.text


async def _log(http: httpx.AsyncClient, base: str, build_id: str) -> list[tuple[int, str]]:
    r = await http.get(f"{base}/builds/{build_id}/events", params={"limit": 1000}, headers=WRITE)
    return [(e["id"], e["action"]) for e in r.json()]


async def _collect(sock: GraphQLSocket, count: int, into: list[tuple[int, str]]) -> None:
    while len(into) < count:
        message = await sock.receive()
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        event = message["payload"]["data"]["buildEvents"]
        into.append((int(event["id"]), event["action"]))


async def _listener_pid(admin: asyncpg.Connection, server_pid: int) -> int | None:
    return await admin.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
        f"buildstate-listener-{server_pid}",
    )


@pytest.fixture(scope="module")
async def pair(database, tmp_path_factory):
    """Two service processes on the session's database."""
    logs = tmp_path_factory.mktemp("servers")
    a, b = await asyncio.gather(start(database.database_url, logs, name="a"),
                                start(database.database_url, logs, name="b"))
    try:
        yield a, b
    finally:
        await asyncio.gather(stop(a), stop(b))


async def test_a_subscription_follows_writes_made_through_another_process(pair, backend):
    a, b = pair
    async with httpx.AsyncClient(timeout=10) as http:
        build_id = await _new_build(http, b.url)
        async with GraphQLSocket.connect(a.ws_url, {"X-API-Key": READ_KEY}) as sock:
            assert (await sock.receive())["type"] == "connection_ack"
            await sock.subscribe("1", SUBSCRIBE, {"id": build_id, "after": "0"})
            got: list[tuple[int, str]] = []
            await _collect(sock, 1, got)  # build.created, replayed: the stream is live from here
            for code in (10, 20):
                await _move(http, b.url, build_id, code, "in_progress")
                await _move(http, b.url, build_id, code, "completed")
            await _collect(sock, 5, got)
            assert got == await _log(http, b.url, build_id)

            if backend == "postgres":
                admin = await asyncpg.connect(PG_ADMIN_DSN)
                try:
                    victim = await _listener_pid(admin, a.pid)
                    assert victim, "process A has no listener connection"
                    assert await admin.fetchval("SELECT pg_terminate_backend($1)", victim)
                    for code in (30, 35, 40):  # while A's listener is gone or reconnecting
                        await _move(http, b.url, build_id, code, "completed")
                    await _collect(sock, 8, got)
                    for _ in range(100):
                        fresh = await _listener_pid(admin, a.pid)
                        if fresh and fresh != victim:
                            break
                        await asyncio.sleep(0.1)
                    assert fresh and fresh != victim, "A's listener did not reconnect"
                finally:
                    await admin.close()
                await _move(http, b.url, build_id, 100, "completed")  # completes the build
                await _collect(sock, 10, got)
            await asyncio.sleep(0.5)
            assert got == await _log(http, b.url, build_id)  # in order, none missing, none twice
            with pytest.raises(asyncio.TimeoutError):
                await sock.receive(timeout=0.5)


async def test_subscriptions_authenticate_at_connection_init(pair):
    from websockets.exceptions import ConnectionClosed

    server, _ = pair
    for payload in ({"X-API-Key": "not-a-key"}, {}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer not.a.jwt"}):
        async with GraphQLSocket.connect(server.ws_url, payload) as sock:
            with pytest.raises(ConnectionClosed) as closed:
                await sock.receive()
            assert closed.value.rcvd.code == 4403, payload
    async with httpx.AsyncClient() as http:  # a JWT traded for a key works like the key
        token = (await http.post(f"{server.url}/auth/token", headers={"X-API-Key": READ_KEY})).json()
    async with GraphQLSocket.connect(server.ws_url, {"Authorization": f"Bearer {token['access_token']}"}) as sock:
        assert (await sock.receive())["type"] == "connection_ack"


async def test_revoking_a_key_in_another_process_ends_its_subscriptions(pair):
    """Process A re-checks the key of an open subscription; B revokes it: A ends the operation
    with UNAUTHENTICATED (a `next` carrying the error, then `complete`) within its check
    interval plus its key cache's lifetime."""
    from tests.conftest import ADMIN_KEY

    a, b = pair
    admin = {"X-API-Key": ADMIN_KEY}
    async with httpx.AsyncClient(timeout=10) as http:
        build_id = await _new_build(http, b.url)
        r = await http.post(f"{b.url}/auth/keys", headers=admin,
                            json={"name": unique("watcher"), "scopes": ["read"]})
        assert r.status_code == 201, r.text
        key = r.json()
        async with GraphQLSocket.connect(a.ws_url, {"X-API-Key": key["key"]}) as sock:
            assert (await sock.receive())["type"] == "connection_ack"
            await sock.subscribe("1", SUBSCRIBE, {"id": build_id, "after": "0"})
            got: list[tuple[int, str]] = []
            await _collect(sock, 1, got)
            r = await http.delete(f"{b.url}/auth/keys/{key['id']}", headers=admin)
            assert r.status_code == 200, r.text
            message = await sock.receive(timeout=30)
            assert message["type"] == "next" and message["id"] == "1", message
            [error] = message["payload"]["errors"]
            assert error["extensions"]["code"] == "UNAUTHENTICATED" and "revoked" in error["message"]
            assert (await sock.receive())["type"] == "complete"


def _health_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "buildstate_http_requests_total" and s.labels.get("route") == "/health":
                return s.value
    return 0.0


async def test_metrics_add_up_across_worker_processes(database, tmp_path):
    folder = tmp_path / "prom"
    folder.mkdir()
    async with serve(database.database_url, tmp_path, workers=2, name="workers",
                     env={"PROMETHEUS_MULTIPROC_DIR": str(folder)}) as server:
        for _ in range(40):  # a fresh connection each: the kernel spreads them over the workers
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{server.url}/health")).status_code == 200
        counts = set()
        for _ in range(4):
            async with httpx.AsyncClient() as http:
                r = await http.get(f"{server.url}/metrics", headers={"X-API-Key": READ_KEY})
                assert r.status_code == 200
                counts.add(_health_count(r.text))
        assert counts == {40.0}, counts
        assert "buildstate_builds" in r.text
    assert len(list(folder.glob("counter_*.db"))) >= 1
