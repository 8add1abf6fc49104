"""Live fan-out of the event log to subscribers (GraphQL subscriptions, the dashboard).

One `EventHub` per process tails the log and hands each new event to the subscribers that want
it. Where new events come from depends on the database:

- PostgreSQL: `record_event` calls `pg_notify('buildstate_events', <id>)` inside the change's
  transaction, so every process hears about every commit, in commit order, whichever process
  made it. The hub LISTENs on a connection of its own. When that connection dies it reconnects
  (with backoff), LISTENs again and only then replays the log, in pages, until it is caught up.
  Ids are taken at insert but become visible at commit, so "the last id delivered" is not a
  safe place to start: the hub remembers the ids below it it has not heard yet (*holes*: a
  transaction still committing, or one rolled back, forgotten after HOLE_SECONDS) and replays
  from the lowest of them; what it already delivered is skipped by id. No gap, no duplicate.
- SQLite: one writer at a time means ids become visible in id order, so a short poll of
  `id > position` is exact; it also serves several processes on one file.

Subscribers register first and replay from the log second (when they give `after_id`), so a
client that read history up to an id and subscribes from it misses nothing in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg

from app.services import audit
from app.services.actor import Actor
from app.services.builds import get_build
from app.services.errors import NotFound
from app.services.projects import get_project
from app.services.resume import get_resume_request
from db.models import Event, ResumeRequest

log = logging.getLogger("buildstate.live")

CHANNEL = "buildstate_events"
REPLAY_PAGE = 1000  # rows per read when catching up
HOLE_SECONDS = 120.0  # an id not heard of for this long is taken for a rolled-back insert
MAX_HOLES = 10_000
SEEN_CAPACITY = 50_000
SUBSCRIBER_QUEUE = 10_000
POLL_SECONDS = 0.25
HEALTH_SECONDS = 5.0


class SubscriberOverflow(Exception):
    """A subscriber that fell too far behind is dropped; it resubscribes with `after_id`."""


class _Seen:
    """The ids already dispatched, bounded (oldest forgotten first)."""

    def __init__(self, capacity: int = SEEN_CAPACITY) -> None:
        self._order: deque[int] = deque()
        self._ids: set[int] = set()
        self.capacity = capacity
        self.forgotten = 0  # the highest id no longer remembered

    def add(self, ident: int) -> bool:
        """True when the id is new."""
        if ident in self._ids:
            return False
        self._ids.add(ident)
        self._order.append(ident)
        if len(self._order) > self.capacity:
            old = self._order.popleft()
            self._ids.discard(old)
            self.forgotten = max(self.forgotten, old)
        return True


class _Holes:
    """Ids below the highest one dispatched that have not been heard of yet, oldest first."""

    def __init__(self) -> None:
        self._since: dict[int, float] = {}  # id -> when it was first missed

    def __contains__(self, ident: int) -> bool:
        return ident in self._since

    def __len__(self) -> int:
        return len(self._since)

    def missed(self, ids: range, now: float) -> None:
        for ident in ids[-MAX_HOLES:]:
            self._since.setdefault(ident, now)
        while len(self._since) > MAX_HOLES:
            self._since.pop(next(iter(self._since)))

    def heard(self, ident: int) -> None:
        self._since.pop(ident, None)

    def expire(self, now: float) -> None:
        while self._since:
            ident, since = next(iter(self._since.items()))
            if now - since < HOLE_SECONDS:
                return
            del self._since[ident]

    def lowest(self) -> int | None:
        return min(self._since) if self._since else None


@dataclass(eq=False)
class _Subscriber:
    wants: Callable[[Event], bool]
    queue: asyncio.Queue[Event | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=SUBSCRIBER_QUEUE)
    )
    overflowed: bool = False


async def _fresh(make: Callable[[], Awaitable[list[Event]]]) -> list[Event]:
    # Each read in its own task: a long-lived task keeps no broken connection state.
    return await asyncio.create_task(make())


class EventHub:
    def __init__(self) -> None:
        self._subscribers: set[_Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._start_lock: asyncio.Lock | None = None
        self._seen = _Seen()
        self._holes = _Holes()
        self.position = 0  # highest id dispatched
        self.floor = 0  # where this process started listening
        self.ready = asyncio.Event()
        self.connections = 0  # how many times the listener has (re)connected
        self.replays = 0  # catch-ups after a reconnect, and the rows they read
        self.replayed = 0
        self.listener_pid: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start tailing (idempotent); returns once new events are being heard."""
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if not self.running:
                self.ready = asyncio.Event()
                runner = self._listen if _dialect() == "postgres" else self._poll
                self._task = asyncio.create_task(runner(), name="buildstate-event-hub")
        ready = asyncio.ensure_future(self.ready.wait())
        done, _ = await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            self._task.result()  # surfaces the reason the hub stopped

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sub in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)

    # -- subscribing -------------------------------------------------------------------------

    async def stream(
        self,
        wants: Callable[[Event], bool],
        *,
        replay: Callable[[int], Awaitable[list[Event]]] | None = None,
        after_id: int | None = None,
    ) -> AsyncIterator[Event]:
        """Events the predicate wants: first those after `after_id` (from the log), then live."""
        await self.start()
        sub = _Subscriber(wants)
        self._subscribers.add(sub)
        delivered = _Seen()
        try:
            if after_id is not None and replay is not None:
                position = after_id
                while True:
                    page = await _fresh(lambda: replay(position))
                    for event in page:
                        if delivered.add(event.id):
                            yield event
                    if len(page) < 500:
                        break
                    position = page[-1].id
            while True:
                event = await sub.queue.get()
                if event is None:
                    if sub.overflowed:
                        raise SubscriberOverflow(
                            "the subscriber fell behind; subscribe again with afterId"
                        )
                    return
                if delivered.add(event.id):
                    yield event
        finally:
            self._subscribers.discard(sub)

    def _dispatch(self, events: list[Event], *, replaying: bool = False) -> None:
        now = asyncio.get_running_loop().time()
        for event in events:
            ident = event.id
            hole = ident in self._holes
            if replaying and not hole and ident <= self._seen.forgotten:
                continue  # delivered so long ago it is no longer remembered
            if not self._seen.add(ident):
                continue
            if hole:
                self._holes.heard(ident)
            elif ident > self.position + 1:
                self._holes.missed(range(self.position + 1, ident), now)
            self.position = max(self.position, ident)
            for sub in list(self._subscribers):
                if sub.overflowed or not sub.wants(event):
                    continue
                try:
                    sub.queue.put_nowait(event)
                except asyncio.QueueFull:
                    sub.overflowed = True
                    self._subscribers.discard(sub)
                    sub.queue.get_nowait()
                    sub.queue.put_nowait(None)
        if not replaying:  # the clock of a hole only runs while the hub hears the log
            self._holes.expire(now)

    # -- SQLite: poll ------------------------------------------------------------------------

    async def _poll(self) -> None:
        self.position = self.floor = await audit.last_event_id()
        self.connections += 1
        self.ready.set()
        while True:
            try:
                while True:
                    page = await _fresh(lambda: audit.events_after(self.position))
                    self._dispatch(page)
                    if len(page) < 1000:
                        break
            except Exception:  # the database is away for a moment: keep tailing
                log.warning("event hub poll failed", exc_info=True)
            await asyncio.sleep(POLL_SECONDS)

    # -- PostgreSQL: LISTEN/NOTIFY -----------------------------------------------------------

    async def _listen(self) -> None:
        backoff = 0.1
        first = True
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await _connect()
                notified: asyncio.Queue[int] = asyncio.Queue()
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c: lost.set())
                await conn.add_listener(
                    CHANNEL, lambda _c, _pid, _ch, payload: notified.put_nowait(int(payload))
                )
                self.listener_pid = conn.get_server_pid()
                if first:
                    # Everything committed before this point is history, not news.
                    self.position = self.floor = await audit.last_event_id()
                    self._holes = _Holes()
                    first = False
                else:
                    await self._replay()
                self.connections += 1
                self.ready.set()
                backoff = 0.1
                await self._drain(conn, notified, lost)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection refused, killed, reset: reconnect
                log.warning("event listener lost its connection (%s); reconnecting",
                            type(exc).__name__)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        conn.terminate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _drain(
        self, conn: asyncpg.Connection, notified: asyncio.Queue[int], lost: asyncio.Event
    ) -> None:
        while True:
            getter = asyncio.ensure_future(notified.get())
            lost_wait = asyncio.ensure_future(lost.wait())
            done, _ = await asyncio.wait(
                {getter, lost_wait}, timeout=HEALTH_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            lost_wait.cancel()
            if getter not in done:
                getter.cancel()
                if lost.is_set() or conn.is_closed():
                    raise ConnectionError("listener connection closed")
                await conn.fetchval("SELECT 1", timeout=HEALTH_SECONDS)  # a silent dead link
                continue
            ids = [getter.result()]
            while not notified.empty():
                ids.append(notified.get_nowait())
            rows = {e.id: e for e in await _fresh(lambda: audit.events_by_ids(ids))}
            # Commit order, which is the order the notifications came in.
            self._dispatch([rows[i] for i in ids if i in rows])

    async def _replay(self) -> None:
        """Catch up after a reconnect: from the lowest hole (else the last id dispatched) to
        the end of the log, page by page."""
        lowest = self._holes.lowest()
        position = max(self.floor, self.position if lowest is None else lowest - 1)
        self.replays += 1
        while True:
            page = await _fresh(lambda: audit.events_after(position, limit=REPLAY_PAGE))
            self._dispatch(page, replaying=True)
            self.replayed += len(page)
            if len(page) < REPLAY_PAGE:
                return
            position = page[-1].id


def _dialect() -> str:
    return Event._meta.db.capabilities.dialect


async def _connect() -> asyncpg.Connection:
    """The listener's own connection (outside the pool: it lives as long as the process)."""
    return await asyncpg.connect(
        **_connect_kwargs(), timeout=10,
        server_settings={"application_name": f"buildstate-listener-{os.getpid()}"},
    )


def _connect_kwargs() -> dict[str, object]:
    client = Event._meta.db
    return {
        "host": client.host, "port": client.port, "user": client.user,
        "password": client.password, "database": client.database,
    }


hub = EventHub()


# -- what the interfaces subscribe to -----------------------------------------------------------

T = TypeVar("T")


async def guarded(
    stream: AsyncIterator[T], check: Callable[[], Awaitable[object]], every: float
) -> AsyncIterator[T]:
    """The stream's items, while `check()` keeps passing: it runs every `every` seconds, idle or
    not, and whatever it raises ends the stream with that error (the stream is closed first)."""
    loop = asyncio.get_running_loop()
    source = aiter(stream)
    pending: asyncio.Future[T] | None = None
    due = loop.time() + every
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(source))
            done, _ = await asyncio.wait({pending}, timeout=max(0.0, due - loop.time()))
            if pending in done:
                item_source, pending = pending, None
                try:
                    item = item_source.result()
                except StopAsyncIteration:
                    return
                yield item
            if loop.time() >= due:
                await check()
                due = loop.time() + every
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(RuntimeError):  # already closed by the cancellation
                await aclose()



async def build_event_stream(
    *, actor: Actor, build_id: str, after_id: int | None = None
) -> AsyncIterator[Event]:
    """A build's events as they are committed; from `after_id` first when given."""
    actor.require("read")
    build = await get_build(actor=actor, build_id=build_id)
    ident: uuid.UUID = build.id

    async def replay(position: int) -> list[Event]:
        return await Event.filter(build_id=ident, id__gt=position).order_by("id").limit(500)

    async for event in hub.stream(lambda e: e.build_id == ident, replay=replay, after_id=after_id):
        yield event


@dataclass(frozen=True)
class ResumeRequestUpdate:
    event: Event
    request: ResumeRequest | None


async def resume_request_stream(
    *, actor: Actor, project_id: str, after_id: int | None = None
) -> AsyncIterator[ResumeRequestUpdate]:
    """Every change to a project's resume requests, with the request as it is now."""
    actor.require("read")
    await get_project(actor=actor, project_id=project_id)

    def wants(e: Event) -> bool:
        return e.project_id == project_id and e.target_type == "resume_request"

    async def replay(position: int) -> list[Event]:
        return await Event.filter(
            project_id=project_id, target_type="resume_request", id__gt=position
        ).order_by("id").limit(500)

    async for event in hub.stream(wants, replay=replay, after_id=after_id):
        try:
            request = await get_resume_request(actor=actor, request_id=event.target_id)
        except NotFound:  # deleted with its build since: the event still tells what happened
            request = None
        yield ResumeRequestUpdate(event=event, request=request)
