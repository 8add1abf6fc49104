"""Rate limits: token buckets per credential and per anonymous address; 429 + Retry-After."""

from __future__ import annotations

import httpx

from app.ratelimit import RateLimiter, RateLimitHandle
from app.settings import Settings
from tests.conftest import ADMIN_KEY
from tests.hardening.conftest import serve


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_and_tells_how_long_to_wait():
    clock = FakeClock()
    limiter = RateLimiter(burst=30, per_second=10, anonymous_burst=10, anonymous_per_second=1,
                          clock=clock)
    me = ("actor", "me")
    assert [limiter.take(me, 10) for _ in range(3)] == [None, None, None]
    assert limiter.take(me, 10) == 1.0  # 10 units at 10/s
    clock.now += 0.5
    assert limiter.take(me, 10) == 0.5
    clock.now += 0.5
    assert limiter.take(me, 10) is None
    # Buckets are independent; anonymous addresses get their own, smaller budget.
    assert limiter.take(("actor", "you"), 30) is None
    assert limiter.take(("address", "10.0.0.1"), 10) is None
    assert limiter.take(("address", "10.0.0.1"), 10) == 10.0
    # An operation dearer than the whole burst runs from a full bucket, then pays it back.
    assert limiter.take(("actor", "big"), 45) is None
    assert limiter.take(("actor", "big"), 1) is not None
    clock.now += 1.6
    assert limiter.take(("actor", "big"), 1) is None


def test_an_operation_dearer_than_the_burst_runs_after_its_own_request_cost():
    # A GraphQL request pays its request cost, then its node cost: a bucket that was full when
    # the request began still admits the largest operation, however fast the two steps follow.
    clock = FakeClock()
    limiter = RateLimiter(burst=100, per_second=1, anonymous_burst=1, anonymous_per_second=1,
                          clock=clock)
    handle = RateLimitHandle(limiter, ("actor", "me"))
    assert handle.take(10) is None
    assert handle.take(250) is None
    # ... and the next request of the same caller waits until the debt is paid back.
    assert RateLimitHandle(limiter, ("actor", "me")).take(10) == 170.0


def test_bucket_memory_is_bounded():
    limiter = RateLimiter(burst=1, per_second=1, anonymous_burst=1, anonymous_per_second=1,
                          max_keys=100)
    for i in range(1000):
        limiter.take(("address", f"10.0.{i // 256}.{i % 256}"), 1)
    assert len(limiter._buckets) == 100


async def test_rest_answers_429_with_retry_after_per_credential(database: Settings):
    tight = database.model_copy(update={"rate_limit_burst": 30, "rate_limit_per_second": 1.0,
                                        "rate_limit_request_cost": 10})
    async with serve(tight) as http:
        statuses = [(await http.get("/projects")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = await http.get("/projects")
        assert limited.status_code == 429
        assert limited.json()["code"] == "RATE_LIMITED"
        assert int(limited.headers["retry-after"]) >= 1
        # Another credential has its own bucket; health and readiness are never limited.
        assert (await http.get("/projects", headers={"X-API-Key": ADMIN_KEY})).status_code == 200
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/ready")).status_code == 200


async def test_anonymous_callers_and_bad_keys_are_limited_per_address(database: Settings):
    tight = database.model_copy(update={"rate_limit_anonymous_burst": 20,
                                        "rate_limit_anonymous_per_second": 0.5,
                                        "rate_limit_request_cost": 10})
    async with serve(tight, key=None, client=("10.1.1.1", 4000)) as http:
        assert (await http.get("/openapi.json")).status_code == 200
        assert (await http.get("/projects")).status_code == 401
        assert (await http.get("/projects")).status_code == 429
        # Guessing keys costs the guesser's address too.
        guess = await http.get("/projects", headers={"X-API-Key": "guess-1"})
        assert guess.status_code == 429 and guess.json()["code"] == "RATE_LIMITED"
        # A valid key is limited by its own bucket, not the address's.
        assert (await http.get("/projects", headers={"X-API-Key": ADMIN_KEY})).status_code == 200
    async with serve(tight, key="guess-2", client=("10.1.1.2", 4000)) as http:
        assert [(await http.get("/projects")).status_code for _ in range(3)] == [401, 401, 429]


async def test_limits_can_be_turned_off(database: Settings):
    off = database.model_copy(update={"rate_limit_enabled": False, "rate_limit_burst": 1})
    async with serve(off) as http:
        assert {(await http.get("/projects")).status_code for _ in range(5)} == {200}
