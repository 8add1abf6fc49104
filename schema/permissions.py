"""Field-level authorisation: one permission class per scope, declared on every root field.

No credential → a top-level error with `extensions.code = "UNAUTHENTICATED"`; a credential
without the scope → `"FORBIDDEN"`. (A bad credential never gets here: the authentication
middleware already answered 401.)
"""

from __future__ import annotations

from typing import Any, ClassVar

from graphql import GraphQLError
from strawberry.permission import BasePermission

from schema.context import Info

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"


class ScopePermission(BasePermission):
    """Grants the field to an actor holding `scope` (admin implies write, write implies read)."""

    scope: ClassVar[str]

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.actor
        if actor is None:
            # Raised (not returned False) so the code depends on the request, while the
            # permission instance stays shared and stateless.
            raise GraphQLError(
                "authentication required: send an X-API-Key header or a Bearer token",
                extensions={"code": UNAUTHENTICATED},
            )
        if not actor.has(self.scope):
            raise GraphQLError(
                f"this field needs the '{self.scope}' scope",
                extensions={"code": FORBIDDEN, "scope": self.scope},
            )
        return True


class CanRead(ScopePermission):
    scope = "read"


class CanWrite(ScopePermission):
    scope = "write"


class IsAdmin(ScopePermission):
    scope = "admin"
