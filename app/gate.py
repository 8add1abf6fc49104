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

The gate is the innermost middleware: after it come Starlette's ExceptionMiddleware and Router.
A request that the GraphQL route takes (`direct`, see DirectRoute) is handed to it here, without
the router's walk over the routes before it and four frames (`create_app(direct_graphql=False)`
keeps the router's way; tests/hardening/test_h7_direct_route.py compares both).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.authentication import AuthenticationError
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route
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
        direct: Route | None = None,
    ) -> None:
        self.app = app
        self.backend = backend
        self.on_error = on_error
        self.rate_limit = RateLimitMiddleware(app, limiter=limiter, settings=settings)
        self.idempotency = IdempotencyMiddleware(app, settings=settings)
        self.other = AuthenticationMiddleware(app, backend=backend, on_error=on_error)
        # Only when the next layer is Starlette's ExceptionMiddleware over the router (the gate
        # is the last middleware): DirectRoute does what both would do.
        self.direct = (
            DirectRoute(direct, app)
            if direct is not None and type(app) is ExceptionMiddleware else None
        )

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
        direct = self.direct
        if direct is not None and direct.takes(scope):
            await direct(scope, receive, send)
        elif scope["method"] == "POST":
            await self.idempotency(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class DirectRoute:
    """What ExceptionMiddleware, Router and Route.handle do for an HTTP request that `route`
    matches fully, when `route` is the first route of the router that can match its path
    (create_app: the GraphQL route; the hot REST routes before it match /builds/... only):

    - ExceptionMiddleware: `scope["starlette.exception_handlers"]` (its own handler maps), then
      the app wrapped by Starlette's `wrap_app_handling_exceptions` (the same function it uses:
      an HTTPException raised before the answer started gets the application's handler);
    - Router.app: `scope["router"]` unless set, `scope["route"]`, then the route's child scope
      (`endpoint`, a copy of `path_params`: a template without parameters adds none);
    - Route.handle: the method is one of the route's, so its app is called.

    Only a path equal to the template with no root_path is taken (the routing path is then the
    path itself, and app.idempotency's prefix check, which reads the path, skips it as before);
    anything else goes the router's way.
    """

    def __init__(self, route: Route, exceptions: ExceptionMiddleware) -> None:
        self.route = route
        self.path = route.path
        self.methods = route.methods or set()
        self.app = route.app
        self.router = exceptions.app
        self.handlers = (exceptions._exception_handlers, exceptions._status_handlers)

    def takes(self, scope: Scope) -> bool:
        return (
            scope["path"] == self.path
            and scope["method"] in self.methods
            and not scope.get("root_path")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["starlette.exception_handlers"] = self.handlers
        if "router" not in scope:
            scope["router"] = self.router
        scope["route"] = self.route
        scope["endpoint"] = self.route.endpoint
        scope["path_params"] = dict(scope.get("path_params", {}))
        request = Request(scope, receive, send)
        await wrap_app_handling_exceptions(self.app, request)(scope, receive, send)
