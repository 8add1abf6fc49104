"""Live updates over graphql-transport-ws, authenticated once at connection_init.

The connection_init payload carries the credential as a header would: {"X-API-Key": "..."} or
{"Authorization": "Bearer ..."}. A missing or invalid credential closes the socket with 4403.
While a subscription runs, its credential is checked again every
BUILDSTATE_SUBSCRIPTION_AUTH_CHECK_SECONDS: once the key is revoked (or the token expired, or
it lost the read scope) the operation ends with an UNAUTHENTICATED error (a `next` message
carrying `errors`, then `complete`). Revocation reaches every process within that interval
plus the key cache's few seconds. Events fan out across processes through PostgreSQL
LISTEN/NOTIFY (app.services.live).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from strawberry.exceptions import ConnectionRejectionError

from app.auth import credentials_of, resolve_actor
from app.services import live
from app.services.errors import Unauthenticated, ValidationFailed
from app.settings import Settings
from schema.context import Context, Info
from schema.permissions import CanRead
from schema.types.event import Event
from schema.types.resume import ResumeRequest


async def authenticate_connection(context: Context, settings: Settings) -> None:
    """`on_ws_connect`: the connection_init payload's credential becomes the context's actor."""
    params: dict[str, Any] = context.connection_params or {}
    request = context.request
    request_id = request.scope.get("state", {}).get("request_id") if request is not None else None
    try:
        key, bearer = credentials_of(params)
        actor = await resolve_actor(key, bearer, settings, request_id)
    except Unauthenticated as exc:
        raise ConnectionRejectionError({"message": exc.message}) from None
    if actor is None:
        raise ConnectionRejectionError(
            {"message": "send X-API-Key or Authorization in the connection_init payload"}
        )
    context.actor = actor


T = TypeVar("T")


def _credential_check(context: Context) -> Callable[[], Awaitable[None]] | None:
    """Re-authenticates what opened the subscription; None when there is nothing to re-check
    (an actor handed in directly, as in-process callers do)."""
    if context.connection_params is not None:
        source: Any = context.connection_params
    elif context.request is not None:
        source = context.request.headers
    else:
        return None

    async def check() -> None:
        try:
            actor = await resolve_actor(*credentials_of(source), context.settings, None)
        except Unauthenticated as exc:
            raise Unauthenticated(f"subscription ended: {exc.message}") from None
        if actor is None or not actor.has("read"):
            raise Unauthenticated("subscription ended: the credential no longer grants 'read'")

    return check


def _while_authorised(info: Info, stream: AsyncIterator[T]) -> AsyncIterator[T]:
    check = _credential_check(info.context)
    if check is None:
        return stream
    return live.guarded(stream, check, info.context.settings.subscription_auth_check_seconds)


def _position(after_id: strawberry.ID | None) -> int | None:
    if after_id is None:
        return None
    if not str(after_id).isdigit():
        raise ValidationFailed("afterId must be an event id", field="after_id")
    return int(after_id)


@strawberry.type(description="A change to a resume request, with the request as it is now.")
class ResumeRequestUpdate:
    event: Event
    resume_request: ResumeRequest | None = strawberry.field(
        description="Null when the request no longer exists."
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[CanRead],
        description="A build's events as they are committed, in order. With afterId, the events "
        "after that id come first (no gap between a query of Build.events and the stream).",
    )
    async def build_events(
        self, info: Info, build_id: strawberry.ID, after_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Event, None]:
        stream = _while_authorised(info, live.build_event_stream(
            actor=info.context.principal, build_id=str(build_id), after_id=_position(after_id)
        ))
        async for event in stream:
            yield Event.from_model(event)

    @strawberry.subscription(
        permission_classes=[CanRead],
        description="Every change to the resume requests of a project's builds.",
    )
    async def resume_request_updates(
        self, info: Info, project_id: strawberry.ID, after_id: strawberry.ID | None = None
    ) -> AsyncGenerator[ResumeRequestUpdate, None]:
        stream = _while_authorised(info, live.resume_request_stream(
            actor=info.context.principal, project_id=str(project_id), after_id=_position(after_id)
        ))
        async for update in stream:
            yield ResumeRequestUpdate(
                event=Event.from_model(update.event),
                resume_request=ResumeRequest.from_model(update.request) if update.request else None,
            )
