"""The gate of every request after the edge: authentication, the rate limit and idempotency keys
in one pure-ASGI layer.

They were three layers (Starlette's AuthenticationMiddleware with app.auth.ApiAuthBackend, then
app.ratelimit.RateLimitMiddleware, then app.idempotency.IdempotencyMiddleware): three frames that
every request, and every resumption of its coroutine after a database wait, passes through.
Here the HTTP request runs the same steps, in the same order, with the same answers:

1. authentication: `scope["auth"]`, `scope["user"]` from ApiAuthBackend.authenticate_http; a
   bad credential is answered by `on_error` (app.ratelimit.auth_failure_handler: 401, or 429
   when the address is over its limit);
2. rate limit: RateLimitMiddleware.admit (its 429);
3. idempotency: only a POST can carry a key that matters, so only a POST enters
   IdempotencyMiddleware (it decides the rest: path, key header, actor).

Anything but HTTP (WebSocket, lifespan) goes through Starlette's AuthenticationMiddleware as
before; the other two pass those through untouched. `create_app(folded_gate=False)` builds the
three separate layers, and tests/hardening/test_h4_gate.py compares both stacks' answers.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.authentication import AuthenticationError
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth import ApiAuthBackend
from app.idempotency import IdempotencyMiddleware
from app.ratelimit import RateLimiter, RateLimitMiddleware
from app.settings import Settings


class GateMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        backend: ApiAuthBackend,
        on_error: Callable[[HTTPConnection, AuthenticationError], Response],
        limiter: RateLimiter,
        settings: Settings,
    ) -> None:
        self.app = app
        self.backend = backend
        self.on_error = on_error
        self.rate_limit = RateLimitMiddleware(app, limiter=limiter, settings=settings)
        self.idempotency = IdempotencyMiddleware(app, settings=settings)
        self.other = AuthenticationMiddleware(app, backend=backend, on_error=on_error)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.other(scope, receive, send)
            return
        try:
            scope["auth"], scope["user"] = await self.backend.authenticate_http(scope)
        except AuthenticationError as exc:
            await self.on_error(HTTPConnection(scope), exc)(scope, receive, send)
            return
        if not await self.rate_limit.admit(scope, send):
            return
        if scope["method"] == "POST":
            await self.idempotency(scope, receive, send)
        else:
            await self.app(scope, receive, send)
