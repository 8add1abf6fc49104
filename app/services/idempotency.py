"""Safe retries: the first answer to a request sent with an idempotency key is kept and replayed.

The key row is inserted *before* the request runs, so the unique (actor, key) index decides
which of several concurrent duplicates does the work; the others wait for its answer. A key
belongs to the actor that used it, and is forgotten after the TTL.

Limit (documented, accepted): the key row and the business change are two transactions. If the
process dies between the change's commit and the answer's write, the key stays "in flight" and
is taken over after `stale_after` seconds, so that one retry may run the request again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from tortoise.exceptions import DBConnectionError, IntegrityError, OperationalError

from app.services.actor import Actor
from app.services.common import utcnow
from app.services.errors import Conflict, ValidationFailed
from db.models import IdempotencyKey

MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[!-~]{1,255}$"  # 1 to 255 visible ASCII characters (a UUID is a good key)


@dataclass(frozen=True)
class Claim:
    """This caller owns the key: run the request, then `complete` or `release` it."""

    id: uuid.UUID


class ClaimUncertain(DBConnectionError):
    """The database failed while the key was being claimed; `claim` may or may not exist."""

    def __init__(self, message: str, claim: Claim) -> None:
        super().__init__(message)
        self.claim = claim


@dataclass(frozen=True)
class Replay:
    """The key was used before with the same request: here is its first answer."""

    status_code: int
    body: str


def body_hash(body: bytes | str | dict | list | None) -> str:
    """JSON bodies are compared by content (key order and spacing do not matter)."""
    if isinstance(body, (dict, list)):
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    else:
        raw = body.encode() if isinstance(body, str) else (body or b"")
        try:
            canonical = json.dumps(
                json.loads(raw), sort_keys=True, separators=(",", ":")
            ).encode()
        except ValueError:
            canonical = raw
    return hashlib.sha256(canonical).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not re.fullmatch(KEY_PATTERN, key):
        raise ValidationFailed(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters",
            field="Idempotency-Key",
        )
    return key


def _mismatch(row: IdempotencyKey, method: str, path: str, digest: str) -> bool:
    return row.method != method or row.path != path or row.body_hash != digest


async def claim(
    *,
    actor: Actor,
    key: str,
    method: str,
    path: str,
    digest: str,
    ttl_seconds: float,
    wait_seconds: float,
    stale_after: float = 120.0,
) -> Claim | Replay:
    """Own the key, or get the first answer given to it (waiting while that request runs).

    Same key with another method, path or body: ValidationFailed (422). Still running after
    `wait_seconds`: Conflict (409) with `retry_after`.
    """
    key = check_key(key)
    deadline = time.monotonic() + wait_seconds
    delay = 0.02
    while True:
        claim_id = uuid.uuid4()
        try:
            await IdempotencyKey.create(
                id=claim_id, actor=actor.name, key=key, method=method, path=path,
                body_hash=digest,
            )
            return Claim(claim_id)
        except IntegrityError:
            pass
        except (DBConnectionError, OperationalError) as exc:
            # The INSERT may have been applied before the connection broke: say which row it
            # would be, so the caller can release it once the database answers again.
            raise ClaimUncertain(str(exc), Claim(claim_id)) from exc
        row = await IdempotencyKey.get_or_none(actor=actor.name, key=key)
        if row is None:
            continue  # the first request gave up its key (it failed): try to take it
        age = (utcnow() - row.created_at).total_seconds()
        if age > ttl_seconds or (row.status_code is None and age > stale_after):
            # Expired, or abandoned by a process that died: forget it and race for the key.
            await IdempotencyKey.filter(id=row.id).delete()
            continue
        if _mismatch(row, method, path, digest):
            raise ValidationFailed(
                "this Idempotency-Key was already used for a different request; "
                "use a new key for a new request",
                field="Idempotency-Key",
            )
        if row.status_code is not None:
            return Replay(row.status_code, row.response_body or "")
        if time.monotonic() >= deadline:
            raise Conflict(
                "a request with this Idempotency-Key is still in progress; retry shortly",
                retry_after=1,
            )
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.25)


async def complete(*, claim: Claim, status_code: int, body: str) -> None:
    """Keep the answer to replay it for retries."""
    await IdempotencyKey.filter(id=claim.id).update(status_code=status_code, response_body=body)


async def release(*, claim: Claim) -> None:
    """Give the key up (the request failed in a way a retry may fix)."""
    await IdempotencyKey.filter(id=claim.id, status_code=None).delete()


async def purge_expired(*, ttl_seconds: float) -> int:
    """Delete keys older than the TTL; returns how many."""
    cutoff = utcnow() - timedelta(seconds=ttl_seconds)
    return await IdempotencyKey.filter(created_at__lt=cutoff).delete()
