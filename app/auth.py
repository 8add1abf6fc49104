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
from starlette.types import Scope

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


def credentials_in(raw: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    """`credentials_of(Headers(raw=raw))` read straight from the ASGI header list: the first
    `x-api-key` and `authorization` headers, as Starlette's Headers.get returns them (names are
    lower-case in ASGI; values latin-1), without building Headers and scanning it four times.
    tests/hardening/test_h4_gate.py compares the two."""
    key = authorization = None
    for name, value in raw:
        if name == b"x-api-key":
            if key is None:
                key = value
        elif name == b"authorization":
            if authorization is None:
                authorization = value
    bearer = None
    if authorization:
        scheme, _, value = authorization.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("Authorization header must be 'Bearer <token>'")
        bearer = value.strip()
    # credentials_of's `get(...) or get(...)`: an empty key header is read twice, still "".
    return (key.decode("latin-1") if key is not None else None), bearer


async def resolve_actor(
    key: str | None, bearer: str | None, settings: Settings, request_id: str | None
) -> Actor | None:
    if key:
        actor = await authenticate_key(key)
    elif bearer:
        actor = authenticate_token(bearer, settings)
    else:
        return None
    return with_request_id(actor, request_id)


def with_request_id(actor: Actor, request_id: str | None) -> Actor:
    """`dataclasses.replace(actor, request_id=request_id)` for an Actor (one per request): a
    copy of its fields with the new id, without replace's walk over the fields and the frozen
    __init__'s object.__setattr__ per field (~2 us). Actor has no __post_init__ and no slots;
    tests/hardening/test_h7_edge.py compares both, and fails if that changes."""
    if type(actor) is not Actor:
        return dataclasses.replace(actor, request_id=request_id)
    copy = object.__new__(Actor)
    fields = copy.__dict__
    fields.update(actor.__dict__)
    fields["request_id"] = request_id
    return copy


class ApiAuthBackend(AuthenticationBackend):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        if conn.scope["type"] == "websocket":
            return None  # GraphQL subscriptions authenticate at connection_init
        return await self.authenticate_http(conn.scope)

    async def authenticate_http(self, scope: Scope) -> tuple[AuthCredentials, BaseUser]:
        """An HTTP request's (credentials, user); AuthenticationError for a bad credential."""
        try:
            key, bearer = credentials_in(scope["headers"])
            actor = await resolve_actor(
                key, bearer, self.settings, scope.get("state", {}).get("request_id")
            )
        except Unauthenticated as exc:
            raise AuthenticationError(exc.message) from None
        if actor is None:
            return AuthCredentials([]), Anonymous()
        return AuthCredentials(sorted(actor.scopes)), ActorUser(actor)
