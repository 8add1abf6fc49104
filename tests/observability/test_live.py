"""The in-process fan-out of the event log: order, replay from an id, resume-request updates,
and (PostgreSQL) catching up after the listener's connection is killed."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest

from app.services import live, resume
from app.services.commands import RequestResume, UpdateResumeRequest
from tests import factories as f
from tests.conftest import PG_ADMIN_DSN

WAIT = 15.0


class Collector:
    """Reads a stream in the background into a list."""

    def __init__(self, stream) -> None:
        self.items: list = []
        self.error: BaseException | None = None
        self._stream = stream
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for item in self._stream:
                self.items.append(item)
        except Exception as exc:  # noqa: BLE001 - kept for the test to look at
            self.error = exc

    async def until(self, count: int, timeout: float = WAIT) -> list:
        async def enough() -> None:
            while len(self.items) < count and self.error is None and not self.task.done():
                await asyncio.sleep(0.02)
        await asyncio.wait_for(enough(), timeout)
        return self.items

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def subscribed(count: int) -> None:
    """Until the hub has this many subscribers (each one is live from then on)."""
    async def wait() -> None:
        while live.hub.subscriber_count < count:
            await asyncio.sleep(0.02)
    await asyncio.wait_for(wait(), WAIT)


async def _events_of(build_id) -> list[tuple[int, str]]:
    from db.models import Event

    return [(e.id, e.action) for e in await Event.filter(build_id=build_id).order_by("id")]


async def test_a_build_stream_delivers_in_order_and_replays_from_an_id(database, writer, reader):
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    history = await _events_of(build.id)  # build.created
    live_only = Collector(live.build_event_stream(actor=reader, build_id=str(build.id)))
    replaying = Collector(live.build_event_stream(actor=reader, build_id=str(build.id), after_id=0))
    await replaying.until(1)
    await subscribed(2)
    for code in (10, 20, 30):
        await f.move(writer, build.id, code, "in_progress")
        await f.move(writer, build.id, code, "completed")
    expected = await _events_of(build.id)
    assert len(expected) == 7
    got = await replaying.until(7)
    assert [(e.id, e.action) for e in got] == expected
    got = await live_only.until(6)
    assert [(e.id, e.action) for e in got] == expected[len(history):]
    await asyncio.sleep(0.5)
    assert len(replaying.items) == 7 and len(live_only.items) == 6  # no duplicate
    await live_only.close()
    await replaying.close()


async def test_resume_request_updates_of_a_project(database, writer, reader):
    pid, build = await f.seed_failed_build(writer)
    stream = Collector(live.resume_request_stream(actor=reader, project_id=pid))
    await subscribed(1)
    request = await resume.request_resume(actor=writer, build_id=str(build.id),
                                          command=RequestResume(resume_reason="try again"))
    await resume.update_resume_request(actor=writer, request_id=str(request.id),
                                       command=UpdateResumeRequest(status="triggered"))
    got = await stream.until(2)
    assert [u.event.action for u in got] == ["resume.requested", "resume.status_changed"]
    assert all(u.request.id == request.id for u in got)  # the request as it is when delivered
    assert got[-1].request.status == "triggered"
    await stream.close()


async def test_a_subscriber_that_falls_behind_is_told_so(database, writer, reader, monkeypatch):
    monkeypatch.setattr(live, "SUBSCRIBER_QUEUE", 2)
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    stream = live.build_event_stream(actor=reader, build_id=str(build.id))
    first = asyncio.create_task(stream.__anext__())  # subscribes, then waits
    await subscribed(1)
    for code in (10, 20, 30, 35):
        await f.move(writer, build.id, code, "completed")
    await first
    last = (await _events_of(build.id))[-1][0]

    async def dispatched() -> None:
        while live.hub.position < last:
            await asyncio.sleep(0.02)
    await asyncio.wait_for(dispatched(), WAIT)  # all four handed over before reading on
    with pytest.raises(live.SubscriberOverflow):
        for _ in range(10):
            await asyncio.wait_for(stream.__anext__(), WAIT)
    await stream.aclose()


async def test_listener_catches_up_after_its_connection_is_killed(database, backend, writer, reader):
    if backend != "postgres":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite tails the log in-process")
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    stream = Collector(live.build_event_stream(actor=reader, build_id=str(build.id)))
    await subscribed(1)
    await f.move(writer, build.id, 10, "completed")
    await stream.until(1)
    connections, victim = live.hub.connections, live.hub.listener_pid
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", victim)
    finally:
        await admin.close()
    # Written while the listener is down or reconnecting: they arrive by replay, once each.
    for code in (20, 30, 35, 40):
        await f.move(writer, build.id, code, "completed")
    expected = (await _events_of(build.id))[1:]
    got = await stream.until(len(expected))
    assert [(e.id, e.action) for e in got] == expected
    assert live.hub.connections > connections and live.hub.listener_pid != victim
    await f.move(writer, build.id, 100, "completed")  # and live again afterwards
    await stream.until(len(expected) + 2)
    assert [e.id for e in stream.items] == [i for i, _ in await _events_of(build.id)][1:]
    await stream.close()


async def test_notifications_leave_with_the_commit_and_never_with_a_rollback(database, backend, writer):
    if backend != "postgres":
        pytest.skip("NOTIFY is PostgreSQL's")
    from tortoise.transactions import in_transaction

    from app.services.common import record_event

    heard: asyncio.Queue[str] = asyncio.Queue()
    name = database.database_url.rsplit("/", 1)[1].split("?")[0]
    conn = await asyncpg.connect(PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name)
    await conn.add_listener(live.CHANNEL, lambda *args: heard.put_nowait(args[-1]))
    try:
        with contextlib.suppress(RuntimeError):
            async with in_transaction():
                await record_event(writer, "test.rolled_back", target_type="test", target_id="x")
                raise RuntimeError("abort")
        async with in_transaction():
            event = await record_event(writer, "test.committed", target_type="test", target_id="y")
            await asyncio.sleep(0.3)
            assert heard.empty()  # not before the commit
        assert await asyncio.wait_for(heard.get(), 5) == str(event.id)
        await asyncio.sleep(0.3)
        assert heard.empty()  # and nothing for the rolled-back one
    finally:
        await conn.close()


async def test_catching_up_reads_every_page_and_the_holes_below_the_last_id(
    database, backend, writer, reader, monkeypatch
):
    """More missed events than one replay page, plus one whose id is below the last id
    delivered (its transaction began first and committed while the listener was away).

    The page is made small so that a few hundred events span several pages: the session's
    log is shared with tests that read all of it (the webhook sender's fan-out)."""
    if backend != "postgres":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite tails the log in-process")
    monkeypatch.setattr(live, "REPLAY_PAGE", 40)
    from tortoise.transactions import in_transaction

    from app.services.common import record_event

    pid = await f.project(writer)
    build = await f.build(writer, pid)
    stream = Collector(live.build_event_stream(actor=reader, build_id=str(build.id)))
    await subscribed(1)

    async def event(action: str) -> int:
        row = await record_event(writer, action, target_type="build", target_id=build.id,
                                 project_id=pid, build_id=build.id)
        return row.id

    took_id, commit = asyncio.Event(), asyncio.Event()
    early: list[int] = []

    async def slow_transaction() -> None:  # takes its id now, commits much later
        async with in_transaction():
            early.append(await event("test.slow"))
            took_id.set()
            await commit.wait()

    async def many(action: str, count: int) -> None:
        for start in range(0, count, 250):
            async with in_transaction():
                for _ in range(start, min(count, start + 250)):
                    await event(action)

    slow = asyncio.create_task(slow_transaction())
    await asyncio.wait_for(took_id.wait(), WAIT)
    # Later ids, delivered live: several pages' worth above the one still committing.
    await many("test.live", 150)
    delivered = await stream.until(150, timeout=60)
    assert all(e.id > early[0] for e in delivered)

    # The listener's connection dies; it may not come back until the test says so.
    attempting, gate = asyncio.Event(), asyncio.Event()
    connect = live._connect

    async def gated_connect():
        attempting.set()
        await gate.wait()
        return await connect()

    monkeypatch.setattr(live, "_connect", gated_connect)
    replays, replayed = live.hub.replays, live.hub.replayed
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", live.hub.listener_pid)
    finally:
        await admin.close()
    await asyncio.wait_for(attempting.wait(), WAIT)
    commit.set()
    await asyncio.wait_for(slow, WAIT)
    missed = 4 * live.REPLAY_PAGE + 10
    await many("test.missed", missed)
    gate.set()

    expected = [e.id for e in delivered] + [early[0]] + [
        i for i, action in await _events_of(build.id) if action == "test.missed"]
    assert len(expected) == len(delivered) + 1 + missed
    got = await stream.until(len(expected), timeout=60)
    assert [e.id for e in got] == expected
    assert live.hub.replays == replays + 1 and live.hub.replayed - replayed >= missed + 1
    await f.move(writer, build.id, 20, "completed")  # and live again afterwards
    await stream.until(len(expected) + 1)
    await asyncio.sleep(0.5)
    assert len(stream.items) == len(expected) + 1  # nothing twice
    assert sorted(e.id for e in stream.items) == [i for i, _ in await _events_of(build.id)][1:]
    await stream.close()
