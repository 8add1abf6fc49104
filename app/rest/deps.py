"""Declared authorization for REST routes: every route depends on `require(scope)` or `public`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, HTTPBearer

from app.services.actor import Actor
from app.services.errors import PreconditionFailed, Unauthenticated, ValidationFailed

# Declared for the OpenAPI document (Swagger's "Authorize" button); the middleware does the work.
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")
_bearer = HTTPBearer(auto_error=False, description="JWT from POST /auth/token")


def require(scope: str):
    """Dependency factory: the caller must hold `scope` (admin implies write implies read)."""

    async def dependency(
        request: Request,
        _key: Annotated[str | None, Depends(_api_key)] = None,
        _token: Annotated[object, Depends(_bearer)] = None,
    ) -> Actor:
        return authorize(request.user, scope)

    dependency.required_scope = scope  # type: ignore[attr-defined]
    return dependency


def authorize(user: object, scope: str) -> Actor:
    """The authenticated actor holding `scope` (app/rest/fast.py checks its routes with it too)."""
    actor = getattr(user, "actor", None)
    if actor is None:
        raise Unauthenticated("a credential is required: X-API-Key or Authorization: Bearer")
    actor.require(scope)
    return actor


async def public() -> None:
    """Marks a route as deliberately open (health, readiness)."""


public.required_scope = "public"  # type: ignore[attr-defined]

Reader = Annotated[Actor, Depends(require("read"))]
Writer = Annotated[Actor, Depends(require("write"))]
Admin = Annotated[Actor, Depends(require("admin"))]


def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            description="Optimistic concurrency: the `version` you read; 412 when it moved",
            pattern=r'^\s*(W/)?"?[0-9]{1,18}"?\s*$',
        ),
    ] = None,
) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise ValidationFailed("If-Match must be the integer version of the row", field="If-Match")
    return int(value)


ExpectedVersion = Annotated[int | None, Depends(expected_version)]
__all__ = ["Admin", "ExpectedVersion", "PreconditionFailed", "Reader", "Writer", "public", "require"]
