"""API keys (stored hashed, named, revocable) and the short-lived JWTs traded for them."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.services.actor import SCOPES, Actor, expand_scopes
from app.services.common import parse_uuid, record_event, utcnow
from app.services.errors import Conflict, NotFound, Unauthenticated, ValidationFailed
from app.settings import Settings
from db.models import ApiKey

DEMO_KEYS = {
    "dev": ("dev-key-12345", ["read", "write"]),
    "admin": ("admin-key-99999", ["admin"]),
}
JWT_ALGORITHM = "HS256"


def hash_key(plain: str) -> str:
    """Keys are random and long, so one SHA-256 is the right cost (as for GitHub tokens)."""
    return hashlib.sha256(plain.encode()).hexdigest()


class _KeyCache:
    """A few seconds of memory for key lookups: auth costs no query on a hot path.

    Revocation therefore takes effect within `ttl` seconds in every process.
    """

    def __init__(self, ttl: float = 5.0, size: int = 1024) -> None:
        self.ttl, self.size = ttl, size
        self._rows: dict[str, tuple[float, Actor | None]] = {}

    def get(self, digest: str) -> tuple[bool, Actor | None]:
        hit = self._rows.get(digest)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, digest: str, actor: Actor | None) -> None:
        if len(self._rows) >= self.size:
            self._rows.clear()
        self._rows[digest] = (time.monotonic() + self.ttl, actor)

    def clear(self) -> None:
        self._rows.clear()


key_cache = _KeyCache()


async def authenticate_key(plain: str) -> Actor:
    digest = hash_key(plain)
    found, actor = key_cache.get(digest)
    if not found:
        row = await ApiKey.get_or_none(key_hash=digest, revoked_at=None)
        actor = (
            Actor(name=row.name, scopes=expand_scopes(row.scopes), kind="api_key")
            if row is not None else None
        )
        key_cache.put(digest, actor)
    if actor is None:
        raise Unauthenticated("invalid or revoked API key")
    return actor


@dataclass(frozen=True)
class Token:
    access_token: str
    token_type: str
    expires_in: int


def issue_token(actor: Actor, settings: Settings) -> Token:
    """A JWT carrying the caller's scopes; it expires after `jwt_ttl_seconds`."""
    now = int(time.time())
    claims = {
        "sub": actor.name, "scopes": sorted(actor.scopes), "iat": now,
        "exp": now + settings.jwt_ttl_seconds, "iss": settings.jwt_issuer,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.secret_key, algorithm=JWT_ALGORITHM)
    return Token(access_token=token, token_type="bearer", expires_in=settings.jwt_ttl_seconds)


def authenticate_token(token: str, settings: Settings) -> Actor:
    try:
        claims = jwt.decode(
            token, settings.secret_key, algorithms=[JWT_ALGORITHM], issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("token has expired") from None
    except jwt.PyJWTError:
        raise Unauthenticated("invalid token") from None
    scopes = claims.get("scopes")
    if not isinstance(scopes, list):
        raise Unauthenticated("invalid token")
    return Actor(name=str(claims["sub"]), scopes=expand_scopes(scopes), kind="jwt")


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    plain: str  # shown once, never stored


def _check_scopes(scopes: list[str]) -> None:
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ValidationFailed(
            f"scopes must be a non-empty subset of {', '.join(SCOPES)}", field="scopes"
        )


async def create_key(
    *, actor: Actor, name: str, scopes: list[str], plain: str | None = None
) -> CreatedKey:
    """Create a named key; the plain key is returned once."""
    actor.require("admin")
    _check_scopes(scopes)
    plain = plain or "bs_" + secrets.token_urlsafe(32)
    try:
        async with in_transaction():
            row = await ApiKey.create(
                name=name, key_hash=hash_key(plain), prefix=plain[:8], scopes=scopes
            )
            await record_event(
                actor, "api_key.created", target_type="api_key", target_id=row.id,
                data={"name": name, "scopes": scopes, "prefix": row.prefix},
            )
    except IntegrityError:
        raise Conflict(f"an API key named '{name}' already exists (or the key is reused)") from None
    return CreatedKey(row, plain)


async def list_keys(*, actor: Actor) -> list[ApiKey]:
    actor.require("admin")
    return await ApiKey.all().order_by("name")


async def revoke_key(*, actor: Actor, key_id: str) -> ApiKey:
    actor.require("admin")
    async with in_transaction():
        row = await ApiKey.select_for_update().get_or_none(id=parse_uuid(key_id, "API key"))
        if row is None:
            raise NotFound(f"API key '{key_id}' not found")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            await row.save()
            await record_event(
                actor, "api_key.revoked", target_type="api_key", target_id=row.id,
                data={"name": row.name},
            )
    key_cache.clear()
    return row


async def ensure_demo_keys(settings: Settings) -> list[str]:
    """Create the documented demo keys in a development database; never in production."""
    if settings.is_production:
        raise RuntimeError("demo keys are never created in production")
    created = []
    for name, (plain, scopes) in DEMO_KEYS.items():
        if not await ApiKey.exists(key_hash=hash_key(plain)):
            async with in_transaction():
                row = await ApiKey.create(
                    name=name, key_hash=hash_key(plain), prefix=plain[:8], scopes=scopes
                )
                await record_event(
                    Actor(name="setup", kind="system"), "api_key.created",
                    target_type="api_key", target_id=row.id,
                    data={"name": name, "scopes": scopes, "demo": True},
                )
            created.append(name)
    return created
