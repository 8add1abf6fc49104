"""Rate limits: a token bucket per credential, or per client address when anonymous.

Every HTTP request costs `rate_limit_request_cost` units; a GraphQL operation also pays its
node cost (computed before execution by schema/limits.py, so aliases and nested lists count),
and a failed authentication is charged to the caller's address. Over the limit: REST answers
429 with Retry-After, GraphQL a RATE_LIMITED error.

The buckets live in the process (no database round trip per request). With N API processes
behind a load balancer, a caller can therefore spend up to N times the configured budget; size
the limits per process accordingly (README, "Running several processes").
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.settings import Settings

Identity = tuple[str, str]  # ("actor", name) or ("address", host)
EXEMPT_PATHS = ("/health", "/ready")


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by identity; least recently used ones are forgotten past `max_keys`."""

    def __init__(
        self,
        *,
        burst: float,
        per_second: float,
        anonymous_burst: float,
        anonymous_per_second: float,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._params = {
            "actor": (float(burst), float(per_second)),
            "address": (float(anonymous_burst), float(anonymous_per_second)),
        }
        self._buckets: OrderedDict[Identity, _Bucket] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        return cls(
            burst=settings.rate_limit_burst, per_second=settings.rate_limit_per_second,
            anonymous_burst=settings.rate_limit_anonymous_burst,
            anonymous_per_second=settings.rate_limit_anonymous_per_second,
        )

    def take(self, identity: Identity, cost: float, *, paid: float = 0.0) -> float | None:
        """Spend `cost` units: None when allowed, else the seconds to wait before retrying.

        A cost above the burst is allowed from a full bucket (which then runs into debt), so
        that the largest operation the limits admit can always run eventually. `paid` is what
        the same request already spent (a GraphQL operation pays its request cost first, then
        its node cost): a bucket that was full when the request began counts as full.
        """
        burst, rate = self._params[identity[0]]
        now = self._clock()
        bucket = self._buckets.get(identity)
        if bucket is None:
            bucket = _Bucket(tokens=burst, stamp=now)
            self._buckets[identity] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(identity)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
        need = min(cost, max(0.0, burst - paid))
        if bucket.tokens >= need:
            bucket.tokens -= cost
            return None
        return (need - bucket.tokens) / rate

    def remaining(self, identity: Identity) -> float:
        burst, rate = self._params[identity[0]]
        bucket = self._buckets.get(identity)
        if bucket is None:
            return burst
        return min(burst, bucket.tokens + (self._clock() - bucket.stamp) * rate)


@dataclass
class RateLimitHandle:
    """What the GraphQL layer needs to charge an operation's cost to the same bucket."""

    limiter: RateLimiter
    identity: Identity
    paid: float = 0.0

    def take(self, cost: float) -> float | None:
        wait = self.limiter.take(self.identity, cost, paid=self.paid)
        if wait is None:
            self.paid += cost
        return wait


def identity_of(scope: Scope) -> Identity:
    actor = getattr(scope.get("user"), "actor", None)
    if actor is not None:
        return ("actor", actor.name)
    client = scope.get("client")
    return ("address", client[0] if client else "unknown")


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def limited_body(seconds: float) -> dict:
    return {
        "detail": f"rate limit exceeded; retry in {retry_after_header(seconds)} s",
        "code": "RATE_LIMITED",
    }


class RateLimitMiddleware:
    """Charges every HTTP request; placed after authentication so it knows the credential."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, settings: Settings) -> None:
        self.app = app
        self.limiter = limiter
        self.enabled = settings.rate_limit_enabled
        self.cost = settings.rate_limit_request_cost

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or await self.admit(scope, send):
            await self.app(scope, receive, send)

    async def admit(self, scope: Scope, send: Send) -> bool:
        """Charge an HTTP request (authenticated already): True to go on; False when it was
        over the limit and its 429 has been sent. (Also called by app.gate.GateMiddleware.)"""
        if not self.enabled or scope["path"] in EXEMPT_PATHS:
            return True
        handle = RateLimitHandle(self.limiter, identity_of(scope))
        scope.setdefault("state", {})["rate_limit"] = handle
        wait = handle.take(self.cost)
        if wait is not None:
            await _too_many(send, wait, graphql=scope["path"] == "/graphql")
            return False
        return True


def graphql_limited_body(seconds: float) -> dict:
    retry = retry_after_header(seconds)
    return {"data": None, "errors": [{
        "message": f"rate limit exceeded; retry in {retry} s",
        "extensions": {"code": "RATE_LIMITED", "retryAfter": int(retry)},
    }]}


async def _too_many(send: Send, wait: float, *, graphql: bool = False) -> None:
    body = json.dumps(graphql_limited_body(wait) if graphql else limited_body(wait)).encode()
    await send({
        "type": "http.response.start", "status": 429,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", retry_after_header(wait).encode())],
    })
    await send({"type": "http.response.body", "body": body})


def auth_failure_handler(limiter: RateLimiter, settings: Settings):
    """`on_error` for AuthenticationMiddleware: a bad credential costs its address, so that
    guessing keys is throttled like any other anonymous traffic."""

    def on_error(conn: HTTPConnection, exc: Exception) -> JSONResponse:
        if settings.rate_limit_enabled:
            client = conn.scope.get("client")
            wait = limiter.take(("address", client[0] if client else "unknown"),
                                settings.rate_limit_request_cost)
            if wait is not None:
                return JSONResponse(limited_body(wait), status_code=429,
                                    headers={"Retry-After": retry_after_header(wait)})
        return JSONResponse({"detail": str(exc), "code": "UNAUTHENTICATED"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})

    return on_error
