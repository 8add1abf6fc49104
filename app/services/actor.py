"""Who is calling: the principal every service receives."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.services.errors import Forbidden

SCOPES = ("read", "write", "admin")
# admin implies write and read; write implies read.
_IMPLIED = {"admin": {"admin", "write", "read"}, "write": {"write", "read"}, "read": {"read"}}


def expand_scopes(scopes: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    granted: set[str] = set()
    for scope in scopes:
        granted |= _IMPLIED.get(scope, set())
    return frozenset(granted)


@dataclass(frozen=True)
class Actor:
    name: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    kind: str = "api_key"  # api_key | jwt | system
    request_id: str | None = None

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def require(self, scope: str) -> None:
        if not self.has(scope):
            raise Forbidden(f"this call needs the '{scope}' scope", scope=scope)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes


SYSTEM = Actor(name="system", scopes=frozenset(SCOPES), kind="system")
