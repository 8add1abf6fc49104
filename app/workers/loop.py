"""The shared runner of long-running loops (orchestrator, webhook sender).

Each iteration runs in a task of its own, created from the loop's clean context: Tortoise
1.1.9 keeps a transaction's connection in a context variable and, when `BEGIN` fails on a
connection PostgreSQL dropped, never resets it, so a long-lived task would keep using the dead
connection forever. A fresh task per iteration throws that state away with the task.
Iterations are bounded by a timeout; failures back off; SIGTERM lets the current iteration
finish, then `on_stop` hands back leases.

Backoff: doubling from `idle_seconds` up to `max_backoff_seconds` for failures that are bugs
or remote trouble, but at most `max_outage_backoff_seconds` (~5 s) while the failures say
"the database is unavailable" (a restart, a saturated pool): a worker that slept 30 s after
PostgreSQL came back would be the last thing still down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.settings import get_settings
from app.unavailable import UNAVAILABLE

log = logging.getLogger("buildstate.workers")

Step = Callable[[], Awaitable[bool]]  # returns True when it did work (run again at once)


def _outage_backoff_setting() -> float:
    return get_settings().worker_outage_backoff_seconds


@dataclass
class Loop:
    name: str
    step: Step
    idle_seconds: float = 1.0
    timeout_seconds: float = 300.0
    max_backoff_seconds: float = 30.0
    on_stop: Callable[[], Awaitable[object]] | None = None
    # Loops built without it (the orchestrator's) follow BUILDSTATE_WORKER_OUTAGE_BACKOFF_SECONDS.
    max_outage_backoff_seconds: float = field(default_factory=_outage_backoff_setting)

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        outage = False
        try:
            while not stop.is_set():
                busy = False
                task = asyncio.create_task(self.step(), name=f"{self.name}-iteration")
                try:
                    busy = bool(await asyncio.wait_for(task, self.timeout_seconds))
                    failures, outage = 0, False
                except asyncio.CancelledError:
                    if not task.done():
                        task.cancel()
                    raise
                except Exception as exc:  # noqa: BLE001 - a loop must outlive any one iteration
                    failures += 1
                    outage = is_outage(exc)
                    log.warning("%s: iteration failed (%d in a row): %s: %s", self.name, failures,
                                type(exc).__name__, exc, exc_info=failures == 1)
                if busy and not failures:
                    await asyncio.sleep(0)
                    continue
                pause = backoff(failures, idle=self.idle_seconds, cap=self.max_backoff_seconds,
                                outage=outage, outage_cap=self.max_outage_backoff_seconds)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
        finally:
            if self.on_stop is not None:
                await _quietly(self.name, self.on_stop)


def is_outage(exc: BaseException) -> bool:
    """The database is down, restarting or saturated (what the API answers 503 for), or the
    iteration timed out waiting for it."""
    return isinstance(exc, UNAVAILABLE)


def backoff(failures: int, *, idle: float, cap: float, outage: bool, outage_cap: float) -> float:
    """Seconds to wait after `failures` failed iterations in a row (0: the last one worked)."""
    if not failures:
        return idle
    pause = min(cap, idle * 2 ** min(failures, 10))
    return min(pause, max(outage_cap, idle)) if outage else pause


async def _quietly(name: str, func: Callable[[], Awaitable[object]]) -> None:
    try:
        await asyncio.wait_for(asyncio.create_task(_call(func)), 10)
    except Exception as exc:  # noqa: BLE001 - shutting down; leases also expire by themselves
        log.warning("%s: clean-up failed: %s", name, exc)


async def _call(func: Callable[[], Awaitable[object]]) -> object:
    return await func()


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_loops(loops: list[Loop], stop: asyncio.Event) -> None:
    """Run loops until `stop` is set (or one of them dies)."""
    tasks = [asyncio.create_task(loop.run(stop), name=loop.name) for loop in loops]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
