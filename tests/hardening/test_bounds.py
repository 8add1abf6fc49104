"""Database waits are bounded and SIGTERM drains: real server processes on PostgreSQL.

A row lock held from outside the service stands in for a slow transaction: the one request
that waits on it holds the only pooled connection, so the pool is saturated."""

from __future__ import annotations

import asyncio
import signal
import time

import asyncpg
import httpx
import pytest

from app.settings import Settings
from tests.conftest import BACKEND, WRITE_KEY, make_actor
from tests.factories import build, project
from tests.hardening.conftest import server_env, uvicorn_server

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="row locks and pools: PostgreSQL")


def _dsn(settings: Settings) -> str:
    return settings.database_url.replace("postgres://", "postgresql://", 1)


async def _locked_build(settings: Settings):
    """A build, and a connection from outside the service holding its row lock."""
    actor = make_actor("bounds", "write")
    b = await build(actor, await project(actor, with_states=False))
    conn = await asyncpg.connect(_dsn(settings))
    tx = conn.transaction()
    await tx.start()
    await conn.execute("SELECT 1 FROM builds WHERE id = $1 FOR UPDATE", b.id)
    return str(b.id), conn, tx


async def test_saturated_pool_answers_503_with_retry_after_and_recovers(database: Settings):
    env = server_env(database, db_pool_min=1, db_pool_max=1, db_acquire_timeout_seconds=0.5,
                     db_lock_timeout_seconds=3)
    build_id, conn, tx = await _locked_build(database)
    try:
        async with uvicorn_server(env) as (base, _), httpx.AsyncClient(
            base_url=base, headers={"X-API-Key": WRITE_KEY}, timeout=30
        ) as http:
            await tx.rollback()
            assert (await http.get(f"/builds/{build_id}")).status_code == 200  # warm key cache
            tx = conn.transaction()
            await tx.start()
            await conn.execute("SELECT 1 FROM builds WHERE id = $1 FOR UPDATE", build_id)

            t0 = time.monotonic()
            mover = asyncio.create_task(http.post(f"/builds/{build_id}/state",
                                                  json={"state_code": 10, "status": "completed"}))
            await asyncio.sleep(0.4)  # the mover now holds the only connection, waiting on the lock
            t1 = time.monotonic()
            reader = await http.get(f"/builds/{build_id}")
            waited = time.monotonic() - t1
            ready = await http.get("/ready")
            moved = await mover
            lock_wait = time.monotonic() - t0
            print(f"\nsaturated pool: reader {reader.status_code} after {waited:.2f}s, ready "
                  f"{ready.status_code}, mover {moved.status_code} after {lock_wait:.2f}s")

            assert reader.status_code == 503 and waited < 2.0
            assert int(reader.headers["retry-after"]) >= 1
            assert reader.json()["code"] == "UNAVAILABLE"
            assert ready.status_code == 503 and "retry-after" in ready.headers
            assert moved.status_code == 503 and 2.5 < lock_wait < 8  # lock_timeout = 3 s
            assert "retry-after" in moved.headers

            await tx.rollback()
            again = await http.post(f"/builds/{build_id}/state",
                                    json={"state_code": 10, "status": "completed"})
            assert again.status_code == 200, again.text
            assert (await http.get("/ready")).status_code == 200
    finally:
        await conn.close()


async def test_sigterm_lets_in_flight_requests_finish(database: Settings):
    build_id, conn, tx = await _locked_build(database)
    try:
        async with uvicorn_server(server_env(database)) as (base, proc), httpx.AsyncClient(
            base_url=base, headers={"X-API-Key": WRITE_KEY}, timeout=30
        ) as http:
            mover = asyncio.create_task(http.post(f"/builds/{build_id}/state",
                                                  json={"state_code": 10, "status": "completed"}))
            await asyncio.sleep(0.5)  # in flight, waiting on the row lock
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            assert proc.returncode is None  # draining, not gone
            await tx.rollback()
            moved = await mover
            assert moved.status_code == 200, moved.text
            # uvicorn re-raises the signal once drained, so the exit status names it.
            assert await asyncio.wait_for(proc.wait(), 15) in (0, -signal.SIGTERM)
            assert moved.json()["current_state"] == 10
    finally:
        await conn.close()
