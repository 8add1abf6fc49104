"""The sender's cursor never passes an event id a transaction may still commit; on PostgreSQL it
passes a hole as soon as no transaction that could fill it is open (a rollback, a restart),
instead of waiting `event_gap_seconds`."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from tortoise.transactions import in_transaction

from app.services.actor import Actor
from app.services.common import record_event
from app.services.webhook_delivery import CURSOR, Sender
from app.settings import Settings
from db.models import Event, WorkerCursor


class _Rollback(Exception):
    pass


async def _event(actor: Actor, action: str) -> int:
    async with in_transaction():
        return (await record_event(actor, action, target_type="test", target_id="gap")).id


async def _cursor() -> int:
    return (await WorkerCursor.get(name=CURSOR)).position


async def test_a_hole_is_waited_for_while_open_and_passed_once_nobody_can_fill_it(
    database: Settings, backend: str, writer: Actor,
) -> None:
    if backend != "postgres":
        pytest.skip("SQLite has one writer at a time: a rolled-back id is reused, no hole")
    taken: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    release = asyncio.Event()

    async def hold_an_id_open() -> None:
        try:
            async with in_transaction():
                taken.set_result((await record_event(
                    writer, "test.hole", target_type="test", target_id="gap")).id)
                await release.wait()
                raise _Rollback
        except _Rollback:
            pass

    holder = asyncio.create_task(hold_an_id_open())
    hole = await taken
    after = await _event(writer, "test.after_hole")
    assert after > hole
    await WorkerCursor.update_or_create(name=CURSOR, defaults={"position": hole - 1})

    settings = database.model_copy(update={"event_gap_seconds": 300.0})
    async with httpx.AsyncClient() as http:
        sender = Sender(settings=settings, http=http, worker="gap-test")
        for _ in range(3):  # the transaction that took the id is open: it may still commit
            await sender.fan_out()
            assert await _cursor() == hole - 1
            await asyncio.sleep(0.05)
        release.set()
        await holder  # rolled back: the id will never be committed
        assert not await Event.exists(id=hole)
        await sender.fan_out()
        assert await _cursor() >= after  # passed at once, not after 300 s


async def test_a_hole_filled_late_is_delivered_in_order(
    database: Settings, backend: str, writer: Actor,
) -> None:
    if backend != "postgres":
        pytest.skip("SQLite has one writer at a time: ids commit in order")
    taken: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    release = asyncio.Event()

    async def commit_late() -> None:
        async with in_transaction():
            taken.set_result((await record_event(
                writer, "test.late", target_type="test", target_id="gap")).id)
            await release.wait()

    holder = asyncio.create_task(commit_late())
    late = await taken
    after = await _event(writer, "test.after_late")
    await WorkerCursor.update_or_create(name=CURSOR, defaults={"position": late - 1})
    settings = database.model_copy(update={"event_gap_seconds": 300.0})
    async with httpx.AsyncClient() as http:
        sender = Sender(settings=settings, http=http, worker="gap-test")
        await sender.fan_out()
        await sender.fan_out()
        assert await _cursor() == late - 1
        release.set()
        await holder
        await sender.fan_out()
        assert await _cursor() >= after and await Event.exists(id=late)
