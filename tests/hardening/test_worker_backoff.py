"""Worker loops retry within seconds while the database is unavailable (no restart needed)."""

from __future__ import annotations

import asyncio
from itertools import accumulate
from types import SimpleNamespace

import pytest
from tortoise.exceptions import DBConnectionError, OperationalError

from app.settings import Settings
from app.workers.loop import Loop, backoff, is_outage
from app.workers.webhook_sender import build_loop
from db.pool import DatabaseUnavailable


def _schedule(n: int, *, outage: bool, idle: float = 1.0, cap: float = 30.0,
              outage_cap: float = 5.0) -> list[float]:
    return [backoff(f, idle=idle, cap=cap, outage=outage, outage_cap=outage_cap)
            for f in range(1, n + 1)]


def test_database_outages_back_off_to_at_most_five_seconds() -> None:
    # The webhook sender's defaults: idle 1 s, 30 s cap for other failures.
    assert _schedule(8, outage=True) == [2, 4, 5, 5, 5, 5, 5, 5]
    assert _schedule(8, outage=False) == [2, 4, 8, 16, 30, 30, 30, 30]
    # A database back after 30 s of failures is retried at most 5 s later, not 29.
    waited = list(accumulate(_schedule(20, outage=True)))
    first_after = next(t for t in waited if t >= 30)
    assert first_after - 30 <= 5
    assert backoff(0, idle=1.0, cap=30, outage=True, outage_cap=5) == 1.0
    # A loop that is idle for longer than the cap (the hourly cleanup) keeps its own pace.
    assert backoff(3, idle=3600, cap=30, outage=True, outage_cap=5) == 30


@pytest.mark.parametrize("exc, outage", [
    (DatabaseUnavailable("pool saturated"), True),
    (DBConnectionError("connection refused"), True),
    (OperationalError("database is locked"), True),
    (ConnectionRefusedError(), True),
    (TimeoutError(), True),
    (RuntimeError("a bug"), False),
    (ValueError("bad data"), False),
])
def test_what_counts_as_an_outage(exc: Exception, outage: bool) -> None:
    assert is_outage(exc) is outage


def test_the_webhook_sender_takes_the_cap_from_its_settings() -> None:
    settings = Settings(worker_outage_backoff_seconds=2.5)
    sender = SimpleNamespace(settings=settings, step=None, release=None)
    assert build_loop(sender).max_outage_backoff_seconds == 2.5  # type: ignore[arg-type]
    assert Settings().worker_outage_backoff_seconds == 5.0


async def test_a_loop_retries_quickly_through_an_outage() -> None:
    """Eight failed iterations: uncapped doubling would sleep about 5 s, the cap 0.16 s."""
    calls = 0
    recovered = asyncio.Event()

    async def step() -> bool:
        nonlocal calls
        calls += 1
        if calls <= 8:
            raise DatabaseUnavailable("the database is restarting")
        recovered.set()
        return False

    stop = asyncio.Event()
    loop = Loop("outage", step, idle_seconds=0.01, max_backoff_seconds=100.0,
                max_outage_backoff_seconds=0.02)
    runner = asyncio.create_task(loop.run(stop))
    await asyncio.wait_for(recovered.wait(), 4)
    stop.set()
    await asyncio.wait_for(runner, 5)


def test_other_loops_follow_the_setting_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import get_settings

    async def step() -> bool:
        return False

    monkeypatch.setenv("BUILDSTATE_WORKER_OUTAGE_BACKOFF_SECONDS", "3")
    get_settings.cache_clear()
    try:
        assert Loop("orchestrator-like", step).max_outage_backoff_seconds == 3.0
    finally:
        monkeypatch.delenv("BUILDSTATE_WORKER_OUTAGE_BACKOFF_SECONDS")
        get_settings.cache_clear()
    assert Loop("orchestrator-like", step).max_outage_backoff_seconds == 5.0
