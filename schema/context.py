"""The typed per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import strawberry

from app.services.actor import Actor
from app.services.errors import Unauthenticated
from app.settings import Settings
from schema.loaders import Loaders

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.websockets import WebSocket


@dataclass
class Context:
    request: Request | WebSocket | None
    actor: Actor | None
    settings: Settings
    # The request's DataLoaders, made on first use (__getattr__): 13 loaders cost ~13 us, and
    # most operations (mutations, lists) use none of them.
    loaders: Loaders = field(init=False, repr=False, compare=False)
    response: Response | WebSocket | None = None
    # graphql-transport-ws: the connection_init payload (schema.subscriptions reads it).
    connection_params: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        # Only called for an attribute the instance does not have yet.
        if name == "loaders":
            loaders = self.loaders = Loaders.create()
            return loaders
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def loaders_made(self) -> Loaders | None:
        """The loaders if this request has made them, else None: after a write, there is
        nothing to forget in loaders that were never made (and no reason to make 13 for it)."""
        return self.__dict__.get("loaders")

    @property
    def principal(self) -> Actor:
        """The authenticated actor; field permissions run first, so this is a guard."""
        if self.actor is None:
            raise Unauthenticated("this call needs a credential (X-API-Key or Bearer token)")
        return self.actor


Info: TypeAlias = strawberry.Info[Context, Any]
