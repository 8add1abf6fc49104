"""`BoundedPool.checkout`/`checkin` (an idle connection taken and given back without asyncpg's
timeout contexts and release task) behave as `await BoundedPool.acquire()`/`release()`: the
pool's limits, the acquire deadline (DatabaseUnavailable), a woken waiter served before a
newcomer, the release's reset (an open transaction rolled back), the holder's state after a
release, a connection closed while idle, cancellation (waiting, mid-statement), a closed pool.
Each scenario runs on both pairs and compares. PostgreSQL only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tortoise.backends.base.config_generator import expand_db_url

from db.config import normalize_url
from db.pool import BoundedAsyncpgClient, BoundedPool, DatabaseUnavailable
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="the bounded pool is PostgreSQL's")

TIMEOUT = 0.3


@pytest.fixture
async def pool(database) -> AsyncIterator[BoundedPool]:
    credentials = {**expand_db_url(normalize_url(database.database_url))["credentials"],
                   "minsize": 1, "maxsize": 2}
    db = BoundedAsyncpgClient(connection_name="h3", **credentials, acquire_timeout=TIMEOUT)
    await db.create_connection(with_db=True)
    try:
        yield db._pool
    finally:
        await db.close()


def _ways(pool: BoundedPool) -> list[tuple[Any, Any]]:
    async def acquire() -> Any:
        return await pool.acquire()

    return [(pool.checkout, pool.checkin), (acquire, pool.release)]


def _free(pool: BoundedPool) -> int:
    return pool._pool._queue.qsize()


async def test_limits_and_the_deadline(pool) -> None:
    outcomes = []
    for take, give in _ways(pool):
        a, b = await take(), await take()  # maxsize 2
        assert a._con is not b._con
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as refused:
            await take()
        waited = time.monotonic() - started
        outcomes.append((str(refused.value), type(refused.value.__cause__)))
        assert TIMEOUT * 0.9 <= waited < TIMEOUT + 1
        await give(a)
        await give(b)
        assert _free(pool) == 2
    assert outcomes[0] == outcomes[1] == ("no database connection became free in time",
                                          type(None))


async def test_a_waiter_gets_the_released_connection(pool) -> None:
    for take, give in _ways(pool):
        a, b = await take(), await take()
        waiter = asyncio.create_task(take())
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await give(a)
        c = await asyncio.wait_for(waiter, TIMEOUT)
        assert await c.fetchval("SELECT 1") == 1
        await give(b)
        await give(c)
        assert _free(pool) == 2


async def test_a_queued_waiter_goes_first(pool) -> None:
    for take, give in _ways(pool):
        a, b = await take(), await take()
        first = asyncio.create_task(take())
        await asyncio.sleep(0.05)  # `first` waits in the pool's queue
        await give(a)  # wakes `first` (it has not run yet) ...
        with pytest.raises(DatabaseUnavailable):
            await take()  # ... so this newcomer must not take its connection: it times out
        got = await first
        await give(got)
        await give(b)
        assert _free(pool) == 2


async def test_release_resets_and_records_the_timeout(pool) -> None:
    for take, give in _ways(pool):
        con = await take()
        assert con._holder._timeout == TIMEOUT  # the release's default timeout, as asyncpg sets
        raw = con._con
        await con.execute("BEGIN")
        await con.execute("CREATE TEMP TABLE h3_reset (x int)")
        await give(con)  # an open transaction is rolled back on release
        again = await take()
        assert again._con is raw  # LIFO: the same connection
        assert not raw.is_in_transaction()
        assert await again.fetchval("SELECT to_regclass('pg_temp.h3_reset') IS NULL")
        await give(again)


async def test_an_idle_connection_closed_is_replaced(pool) -> None:
    for take, give in _ways(pool):
        con = await take()
        raw = con._con
        await give(con)
        raw.terminate()  # closed while idle in the pool
        fresh = await take()
        assert fresh._con is not raw and not fresh._con.is_closed()
        assert await fresh.fetchval("SELECT 1") == 1
        await give(fresh)


async def test_cancellation(pool) -> None:
    for take, give in _ways(pool):
        a, b = await take(), await take()
        waiter = asyncio.create_task(take())
        await asyncio.sleep(0.05)
        waiter.cancel()  # cancelled while waiting: takes nothing
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await give(a)
        await give(b)
        assert _free(pool) == 2

        async def busy() -> None:
            con = await take()
            try:
                await con.execute("SELECT pg_sleep(5)")
            finally:
                await give(con)

        task = asyncio.create_task(busy())
        await asyncio.sleep(0.1)
        task.cancel()  # cancelled mid-statement: the connection still goes back
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _free(pool) == 2
        con = await take()
        assert await con.fetchval("SELECT 2") == 2
        await give(con)


async def test_a_closed_pool(database) -> None:
    outcomes = []
    credentials = {**expand_db_url(normalize_url(database.database_url))["credentials"],
                   "minsize": 1, "maxsize": 1}
    for way in range(2):
        db = BoundedAsyncpgClient(connection_name="h3", **credentials, acquire_timeout=TIMEOUT)
        await db.create_connection(with_db=True)
        pool = db._pool
        await pool.close()
        with pytest.raises(DatabaseUnavailable) as refused:
            await _ways(pool)[way][0]()
        outcomes.append(str(refused.value))
    assert outcomes[0] == outcomes[1] == "InterfaceError: pool is closed"


def _holder_state(holder: Any) -> tuple:
    return (holder._in_use, holder._proxy, holder._timeout, holder._inactive_callback is not None,
            holder._con._pool_release_ctr, holder._con.is_closed())


async def test_the_holder_after_a_release(pool) -> None:
    states = []
    for take, give in _ways(pool):
        con = await take()
        await con.fetchval("SELECT 1")
        holder, ctr = con._holder, con._con._pool_release_ctr
        con._con.add_termination_listener(lambda c: None)  # kept: only listeners are dropped
        await give(con)
        state = _holder_state(holder)
        states.append((state[:4], state[4] - ctr, state[5], _free(pool)))
        with pytest.raises(Exception, match="released back to the pool"):
            await con.fetchval("SELECT 1")  # the proxy is detached
        await give(con)  # a second release does nothing
        assert _free(pool) == 2
    assert states[0] == states[1] == ((None, None, None, True), 1, False, 2)
