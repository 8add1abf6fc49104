"""Retry delays with jitter, and a per-platform token bucket.

Retries are persisted (`next_attempt_at`), not slept in memory: a worker that dies between two
attempts loses nothing, and another worker makes the next one when it is due.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence


def retry_delay(
    attempt: int, delays: Sequence[float], jitter: float, *, double_past_end: bool = True
) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based). Past the list's end the last
    delay doubles each time, or (`double_past_end=False`) stays the same."""
    if not delays:
        return 0.0
    index = max(attempt, 1) - 1
    if index < len(delays):
        base = delays[index]
    else:
        base = delays[-1] * (2 ** (index - len(delays) + 1) if double_past_end else 1)
    return max(0.0, base * (1 + random.uniform(-jitter, jitter)))


class TokenBucket:
    """`burst` tokens, refilled at `per_minute`; `acquire` waits for one."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self) -> float:
        """Take a token; returns how long it waited."""
        waited = 0.0
        async with self._lock:
            self._refill()
            while self.tokens < 1:
                pause = (1 - self.tokens) / self.rate
                await asyncio.sleep(pause)
                waited += pause
                self._refill()
            self.tokens -= 1
        return waited


class RateLimiter:
    """One bucket per platform, created on first use."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.per_minute = per_minute
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}

    async def acquire(self, platform: str) -> float:
        bucket = self._buckets.get(platform)
        if bucket is None:
            bucket = self._buckets[platform] = TokenBucket(self.per_minute, self.burst)
        return await bucket.acquire()
