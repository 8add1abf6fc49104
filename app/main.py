"""The composition root: one Starlette application for GraphQL, the REST shim and the pages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from app.auth import ApiAuthBackend
from app.database import close_db, init_db
from app.middleware import BodyLimitMiddleware, RequestIdMiddleware
from app.rest import create_rest_app
from app.settings import Settings, get_settings
from schema.app import create_graphql_app

STATIC = Path(__file__).parent / "static"


def _auth_error(conn: HTTPConnection, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def create_app(settings: Settings | None = None, *, manage_db: bool = True) -> Starlette:
    """Build the application; `manage_db=False` leaves the ORM to the caller (tests)."""
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_db:
            await init_db(settings)
        try:
            yield
        finally:
            if manage_db:
                await close_db()

    graphql = create_graphql_app(settings)
    rest = create_rest_app(settings)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger"),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            Mount("", rest),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
            Middleware(AuthenticationMiddleware, backend=ApiAuthBackend(settings), on_error=_auth_error),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app


app = create_app()
