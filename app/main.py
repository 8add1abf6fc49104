"""The composition root: one Starlette application for GraphQL, the REST shim and the pages."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from app.auth import ApiAuthBackend
from app.dashboard import routes as dashboard_routes
from app.database import close_db, init_db
from app.gate import GateMiddleware
from app.idempotency import IdempotencyMiddleware
from app.logging import configure_logging
from app.metrics import mark_process_dead
from app.middleware import EdgeMiddleware, SqlCountMiddleware
from app.ratelimit import RateLimiter, RateLimitMiddleware, auth_failure_handler
from app.rest import create_rest_app
from app.rest.errors import http_error
from app.rest.fast import fast_routes as hot_routes
from app.services import live
from app.settings import Settings, get_settings
from app.workers.cleanup import start_periodic
from app.workers.embedded import start_embedded
from schema.app import create_graphql_app

STATIC = Path(__file__).parent / "static"


class _MethodNotAllowed:
    """An ASGI app (so that its Route takes every method): 405, its Allow named by http_error."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise StarletteHTTPException(405)


def create_app(
    settings: Settings | None = None, *, manage_db: bool = True, fast_routes: bool = True,
    folded_gate: bool = True, direct_graphql: bool = True,
) -> Starlette:
    """Build the application; `manage_db=False` leaves the ORM to the caller (tests);
    `fast_routes=False` lets FastAPI answer the hot routes too, `folded_gate=False` builds the
    three middlewares app/gate.py folds into one, `direct_graphql=False` lets the router find
    the GraphQL route (app.gate.DirectRoute) (tests compare both)."""
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_db:
            configure_logging(settings.log_level, settings.log_format)
            await init_db(settings)
            # What start-up built (modules, schema, ORM metadata) lives as long as the process:
            # frozen out of the collector's scans; and a bigger youngest generation means far
            # fewer collections (a GraphQL answer allocates many small objects). Measured: the
            # collector's share of a request fell from ~0.5 ms to ~0.15 ms.
            gc.freeze()
            gc.set_threshold(10_000, 10, 10)
        embedded = start_embedded(settings)  # orchestrator + webhook sender, when configured
        cleanup = start_periodic(settings) if manage_db else None  # artifact cleanup, every interval
        try:
            yield
        finally:
            if embedded is not None:
                await embedded.close()
            if cleanup is not None:
                await cleanup.close()
            await live.hub.stop()
            mark_process_dead()
            if manage_db:
                await close_db()

    graphql = create_graphql_app(settings)
    if settings.is_production:
        graphql.graphql_ide = None  # no GraphiQL page in production (introspection is off too)
    rest = create_rest_app(settings)
    rest_mount = Mount("", rest)
    graphql_route = Route("/graphql", graphql, methods=["GET", "POST"])
    limiter = RateLimiter.from_settings(settings)  # per process: see app/ratelimit.py
    backend, on_error = ApiAuthBackend(settings), auth_failure_handler(limiter, settings)
    # Authentication, rate limit, idempotency: one layer (app/gate.py), or the three it folds.
    gate = [
        Middleware(GateMiddleware, backend=backend, on_error=on_error, limiter=limiter,
                   settings=settings, direct=graphql_route if direct_graphql else None),
    ] if folded_gate else [
        Middleware(AuthenticationMiddleware, backend=backend, on_error=on_error),
        Middleware(RateLimitMiddleware, limiter=limiter, settings=settings),
        Middleware(IdempotencyMiddleware, settings=settings),
    ]
    app = Starlette(
        routes=[
            # The two hottest REST routes without FastAPI's per-request cost (app/rest/fast.py);
            # first, as they match one method on one /builds/... template each and nothing
            # before them could answer those requests.
            *(hot_routes(rest, rest_mount) if fast_routes else []),
            graphql_route,  # the gate hands it its requests directly (app.gate.DirectRoute)
            # Any other method on /graphql: 405 with Allow, as the REST paths answer (without
            # this route the REST mount below took it: a 404 for a path that exists).
            Route("/graphql", _MethodNotAllowed()),
            WebSocketRoute("/graphql", graphql),
            Mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger"),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            *dashboard_routes(),
            rest_mount,
        ],
        middleware=[
            *([Middleware(SqlCountMiddleware)] if settings.count_sql else []),
            # Request id, log context, metrics, the body bound and database outages, in this
            # order, as one layer (app/middleware.py).
            Middleware(
                EdgeMiddleware,
                max_bytes=settings.max_body_bytes,
                metrics_token=(
                    settings.metrics_token.get_secret_value() if settings.metrics_token else None
                ),
            ),
            *gate,
        ],
        lifespan=lifespan,
        exception_handlers={StarletteHTTPException: http_error},  # 404/405 as JSON, as in REST
    )
    app.state.settings = settings
    app.state.rate_limiter = limiter
    return app


app = create_app()
