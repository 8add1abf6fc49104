"""One table from domain error codes to HTTP statuses; every REST error is {"detail": ...}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from tortoise.exceptions import DBConnectionError, IntegrityError, OperationalError

from app.services.errors import DomainError
from db.pool import InvalidData

log = logging.getLogger("buildstate.rest")

STATUS_BY_CODE = {
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "INVALID_TRANSITION": 409,
    "VALIDATION": 422,
    "NOT_RESUMABLE": 422,
    "FORBIDDEN": 403,
    "UNAUTHENTICATED": 401,
    "PRECONDITION_FAILED": 412,
}


def _request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    body = {"detail": exc.message, "code": exc.code}
    body.update({k: v for k, v in exc.details.items() if v is not None})
    headers = {"WWW-Authenticate": "Bearer"} if exc.code == "UNAUTHENTICATED" else None
    return JSONResponse(body, status_code=STATUS_BY_CODE.get(exc.code, 400), headers=headers)


async def integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # Services translate the constraints they expect; one that slips through is still a conflict.
    log.warning("unexpected integrity error request_id=%s: %s", _request_id(request), exc)
    return JSONResponse({"detail": "the change conflicts with existing data", "code": "CONFLICT"}, 409)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable request_id=%s: %s", _request_id(request), exc)
    return JSONResponse(
        {"detail": "the database is unavailable; retry shortly", "code": "UNAVAILABLE"},
        status_code=503, headers={"Retry-After": "2"},
    )


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = _request_id(request)
    log.exception("unhandled error request_id=%s", request_id, exc_info=exc)
    return JSONResponse(
        {"detail": f"internal error (request id {request_id})", "code": "INTERNAL"}, status_code=500
    )


async def invalid_data(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": f"a value cannot be stored: {exc}", "code": "VALIDATION"}, 422)


def _allowed_methods(request: Request) -> set[str]:
    """The methods of the path template that answered (Starlette's 405 names only the first
    route's, while GET and POST of one path are often two routes)."""
    probe = {**request.scope, "method": "\x00"}
    router = getattr(request.scope.get("app"), "router", None)
    routes, pending = [], list(getattr(router, "routes", ()))
    while pending:  # in routing order; FastAPI keeps included routers as wrappers
        route = pending.pop(0)
        if hasattr(route, "original_router"):
            pending[:0] = route.original_router.routes
        else:
            routes.append(route)
    partial = [r for r in routes if r.matches(probe)[0] == Match.PARTIAL]
    if not partial:
        return set()
    template = getattr(partial[0], "path", None)
    return {m for r in partial if getattr(r, "path", None) == template
            for m in (getattr(r, "methods", None) or ())}


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Routing answers (no such path, method not allowed) as JSON, with a complete Allow."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405 and (allowed := _allowed_methods(request)):
        headers["Allow"] = ", ".join(sorted(allowed))
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                        headers=headers or None)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(InvalidData, invalid_data)
    app.add_exception_handler(IntegrityError, integrity_error)
    app.add_exception_handler(DBConnectionError, database_unavailable)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(ConnectionError, database_unavailable)
    app.add_exception_handler(OSError, database_unavailable)
    app.add_exception_handler(Exception, unexpected)
