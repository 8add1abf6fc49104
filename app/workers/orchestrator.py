"""The orchestrator worker: `python -m app.workers.orchestrator`.

Two loops share one worker identity: *dispatch* claims pending resume requests and triggers
their CI jobs; *follow* polls the jobs it started and marks stalled requests. Any number of
these processes may run against one PostgreSQL; SQLite runs one. The process also runs the
periodic artifact cleanup (BUILDSTATE_CLEANUP_INTERVAL_SECONDS, 0 = off; see app.workers.cleanup).
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

from app.database import close_db, init_db
from app.services.orchestration.dispatch import claim_pending, release_leases, trigger_request
from app.services.orchestration.follow import claim_followed, detect_stalls, follow_request
from app.services.orchestration.runtime import Runtime, new_http_client, worker_name
from app.settings import Settings, get_settings
from app.workers.cleanup import start_periodic
from app.workers.loop import Loop, install_signal_handlers, run_loops

log = logging.getLogger("buildstate.orchestrator")
CONCURRENCY = 8


async def _each(items: list, func) -> list:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(item):
        async with gate:
            return await func(item)

    return await asyncio.gather(*(one(i) for i in items))


def build_loops(settings: Settings, http: httpx.AsyncClient, worker: str | None = None) -> tuple[
    list[Loop], Runtime
]:
    rt = Runtime(settings=settings, http=http, worker=worker or worker_name())
    claim_size = min(settings.orchestrator_batch, settings.trigger_rate_burst * 2)
    stall_every = min(30.0, settings.stall_timeout_seconds / 4)
    last_stall_check = [0.0]

    async def dispatch() -> bool:
        ids = await claim_pending(rt, claim_size)
        if ids:
            outcomes = await _each(ids, lambda i: trigger_request(rt, i))
            log.debug("dispatch: %s", dict(zip(map(str, ids), outcomes)))
        return bool(ids)

    async def follow() -> bool:
        ids = await claim_followed(rt, settings.orchestrator_batch)
        if ids:
            await _each(ids, lambda i: follow_request(rt, i))
        if time.monotonic() - last_stall_check[0] >= stall_every:
            last_stall_check[0] = time.monotonic()
            await detect_stalls(rt)
        return bool(ids)

    idle = settings.orchestrator_idle_seconds
    loops = [
        Loop("orchestrator-dispatch", dispatch, idle_seconds=idle,
             timeout_seconds=settings.orchestrator_lease_seconds,
             on_stop=lambda: release_leases(rt.worker)),
        Loop("orchestrator-follow", follow, idle_seconds=idle,
             timeout_seconds=max(60.0, settings.trigger_timeout_seconds * 6)),
    ]
    return loops, rt


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the orchestrator loops until `stop` is set (the ORM must be started)."""
    async with new_http_client() as http:
        loops, rt = build_loops(settings, http)
        log.info("orchestrator %s started", rt.worker)
        await run_loops(loops, stop)
        log.info("orchestrator %s stopped", rt.worker)


async def main_async(settings: Settings) -> None:
    await init_db(settings)
    stop = asyncio.Event()
    install_signal_handlers(stop)
    cleanup = start_periodic(settings)  # None when BUILDSTATE_CLEANUP_INTERVAL_SECONDS=0
    try:
        await serve(settings, stop)
    finally:
        if cleanup is not None:
            await cleanup.close()
        await close_db()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per CI call is too much
    asyncio.run(main_async(get_settings()))


if __name__ == "__main__":
    main()
