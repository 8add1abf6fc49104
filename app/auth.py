"""One authentication backend for REST and GraphQL: an API key or a JWT becomes an Actor."""

from __future__ import annotations

import dataclasses

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection

from app.services.actor import Actor
from app.services.errors import Unauthenticated
from app.services.keys import authenticate_key, authenticate_token
from app.settings import Settings


class ActorUser(BaseUser):
    def __init__(self, actor: Actor) -> None:
        self.actor = actor

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.actor.name


class Anonymous(BaseUser):
    actor = None

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return ""


def credentials_of(headers: dict[str, str] | object) -> tuple[str | None, str | None]:
    """(api key, bearer token) from headers or a GraphQL connection_init payload."""
    get = headers.get  # type: ignore[attr-defined]
    key = get("x-api-key") or get("X-API-Key")
    bearer = None
    authorization = get("authorization") or get("Authorization")
    if authorization:
        scheme, _, value = str(authorization).partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("Authorization header must be 'Bearer <token>'")
        bearer = value.strip()
    return key, bearer


async def resolve_actor(
    key: str | None, bearer: str | None, settings: Settings, request_id: str | None
) -> Actor | None:
    if key:
        actor = await authenticate_key(key)
    elif bearer:
        actor = authenticate_token(bearer, settings)
    else:
        return None
    return dataclasses.replace(actor, request_id=request_id)


class ApiAuthBackend(AuthenticationBackend):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        if conn.scope["type"] == "websocket":
            return None  # GraphQL subscriptions authenticate at connection_init
        try:
            key, bearer = credentials_of(conn.headers)
            actor = await resolve_actor(
                key, bearer, self.settings, conn.scope.get("state", {}).get("request_id")
            )
        except Unauthenticated as exc:
            raise AuthenticationError(exc.message) from None
        if actor is None:
            return AuthCredentials([]), Anonymous()
        return AuthCredentials(sorted(actor.scopes)), ActorUser(actor)
