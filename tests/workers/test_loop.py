"""The loop runner: an iteration per task, failures back off, stop runs the clean-up."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from app.workers.loop import Loop, run_loops
from db.models import Event
from tests.conftest import BACKEND


async def test_a_failing_iteration_does_not_end_the_loop_and_stop_cleans_up() -> None:
    seen: list[str] = []
    cleaned = asyncio.Event()

    async def step() -> bool:
        seen.append("x")
        if len(seen) == 2:
            raise RuntimeError("the database blinked")
        return len(seen) < 4  # busy for a while, then idle

    async def clean() -> None:
        cleaned.set()

    stop = asyncio.Event()
    loop = Loop("test", step, idle_seconds=0.01, max_backoff_seconds=0.05, on_stop=clean)
    runner = asyncio.create_task(run_loops([loop], stop))
    while len(seen) < 6:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert cleaned.is_set()


async def test_an_iteration_that_hangs_is_cut_off() -> None:
    calls: list[int] = []

    async def step() -> bool:
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(60)
        return False

    stop = asyncio.Event()
    runner = asyncio.create_task(Loop("hang", step, idle_seconds=0.01, timeout_seconds=0.1,
                                      max_backoff_seconds=0.02).run(stop))
    while len(calls) < 2:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(runner, 5)


@pytest.mark.skipif(BACKEND != "postgres", reason="the asyncpg transaction trap")
async def test_a_begin_that_failed_does_not_poison_later_iterations(
    database, monkeypatch
) -> None:
    """Tortoise 1.1.9 leaves a transaction whose BEGIN failed (a dropped connection) in the
    task's context. The loop runs every iteration in a new task, so the next one is clean."""
    from tortoise.backends.asyncpg.client import TransactionWrapper

    real_begin = TransactionWrapper.begin
    failures = {"left": 1}

    async def begin(self) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise asyncpg.exceptions.ConnectionDoesNotExistError(
                "connection was closed in the middle of operation")
        await real_begin(self)

    monkeypatch.setattr(TransactionWrapper, "begin", begin)
    results: list[object] = []

    async def step() -> bool:
        try:
            async with in_transaction():
                results.append(await Event.all().count())
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            results.append(exc)
            raise
        return False

    stop = asyncio.Event()
    runner = asyncio.create_task(
        Loop("pg", step, idle_seconds=0.01, max_backoff_seconds=0.02).run(stop))
    while len(results) < 3:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert isinstance(results[0], Exception)
    assert all(isinstance(r, int) for r in results[1:]), results
