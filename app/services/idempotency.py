"""Safe retries: the first answer to a request sent with an idempotency key is kept and replayed.

One implementation for both transports: the REST middleware (app/idempotency.py) and the
GraphQL `idempotencyKey` argument (schema/mutations/base.py) call `run_once`.

- The key row is inserted *before* the request runs, in a short transaction of its own, so the
  unique (actor, key) index decides which of several concurrent duplicates does the work; the
  others wait for its answer.
- The work and the key's completion are ONE transaction: the request's writes and the answer
  that is replayed for it commit together or not at all. A process that dies half-way leaves
  no change behind, only an "in flight" key that is taken over after `stale_after` seconds;
  the completion only succeeds while the key is still this request's, so a slow request whose
  key was taken over is rolled back instead of applied a second time.
- A key belongs to the actor that used it and to one request: `method` and `path` say which
  (REST: "POST" and the URL path; GraphQL: "GRAPHQL" and the mutation's name), so a key used
  over REST is never replayed to a GraphQL client (it is a reuse, IDEMPOTENCY_KEY_REUSED).
  Keys are forgotten after the TTL.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from tortoise.exceptions import DBConnectionError, IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from app.services.actor import Actor
from app.services.common import utcnow
from app.services.errors import Conflict, ValidationFailed
from db.models import IdempotencyKey

log = logging.getLogger("buildstate.idempotency")

MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[!-~]{1,255}$"  # 1 to 255 visible ASCII characters (a UUID is a good key)


class IdempotencyKeyReused(ValidationFailed):
    """The key was already used, by this actor, for another request (422 / ValidationError)."""

    code = "IDEMPOTENCY_KEY_REUSED"


class KeyTakenOver(Conflict):
    """The request outlived `stale_after` and another took its key over: its work was undone."""


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
        if age > ttl_seconds:  # expired: forget it and race for the key
            await IdempotencyKey.filter(id=row.id).delete()
            continue
        if row.status_code is None and age > stale_after:
            # Abandoned by a process that died (its work was rolled back with its transaction).
            # Only while still unanswered: an answer committed meanwhile is kept and replayed.
            await IdempotencyKey.filter(id=row.id, status_code=None).delete()
            continue
        if _mismatch(row, method, path, digest):
            raise IdempotencyKeyReused(
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
    """Keep the answer to replay it for retries (raises KeyTakenOver when the key is gone).

    Inside `run_once` this runs in the work's transaction; the update only matches while the
    key is still unanswered and this claim's, so two requests can never both commit an answer.
    """
    updated = await IdempotencyKey.filter(id=claim.id, status_code=None).update(
        status_code=status_code, response_body=body
    )
    if not updated:
        raise KeyTakenOver(
            "this request took too long and a retry with the same idempotency key took over; "
            "its changes were not applied",
            retry_after=1,
        )


async def release(*, claim: Claim) -> None:
    """Give the key up (the request failed in a way a retry may fix)."""
    await IdempotencyKey.filter(id=claim.id, status_code=None).delete()


async def purge_expired(*, ttl_seconds: float) -> int:
    """Delete keys older than the TTL; returns how many."""
    cutoff = utcnow() - timedelta(seconds=ttl_seconds)
    return await IdempotencyKey.filter(created_at__lt=cutoff).delete()


@dataclass(frozen=True)
class Answer:
    """What a transport answered; kept (and replayed for retries) when `keep` is true."""

    status_code: int
    body: str
    keep: bool = True


class _NotKept(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


async def run_once(
    *,
    actor: Actor,
    key: str,
    method: str,
    path: str,
    digest: str,
    ttl_seconds: float,
    wait_seconds: float,
    work: Callable[[], Awaitable[Answer]],
    stale_after: float = 120.0,
) -> tuple[Answer, bool]:
    """Run `work` once for this key and request; returns (answer, replayed).

    `work` runs inside a transaction that also records its answer: both commit, or neither.
    An answer that is not kept (`keep=False`: server errors, "retry later") rolls the work back
    and frees the key; so does an exception. Raises IdempotencyKeyReused (same key, another
    request), Conflict (the first request is still running after `wait_seconds`) and the
    database's errors (ClaimUncertain included: the key is then freed once the database is back).
    """
    try:
        outcome = await claim(
            actor=actor, key=key, method=method, path=path, digest=digest,
            ttl_seconds=ttl_seconds, wait_seconds=wait_seconds, stale_after=stale_after,
        )
    except ClaimUncertain as exc:
        uncertain = exc.claim
        await settle(lambda: release(claim=uncertain))
        raise
    if isinstance(outcome, Replay):
        return Answer(outcome.status_code, outcome.body), True
    answer: Answer | None = None
    try:
        async with in_transaction():
            answer = await work()
            if not answer.keep:
                raise _NotKept(answer)
            await complete(claim=outcome, status_code=answer.status_code, body=answer.body)
        return answer, False
    except _NotKept as not_kept:
        await settle(lambda: release(claim=outcome))
        return not_kept.answer, False
    except KeyTakenOver:
        raise  # the key is another request's now: nothing of ours to free
    except Exception as exc:
        if answer is not None and not answer.keep:  # its rollback failed: nothing was committed
            await settle(lambda: release(claim=outcome))
            return answer, False
        if answer is not None and answer.status_code >= 400:
            # A refusal whose transaction could not commit (on PostgreSQL a failed statement
            # the transport turned into a 4xx aborts it): the refusal changed nothing, so it is
            # kept on its own and replayed as it was.
            log.info("idempotency: keeping a refusal outside its transaction (%s)", exc)
            kept = answer
            await settle(lambda: complete(
                claim=outcome, status_code=kept.status_code, body=kept.body
            ))
            return answer, False
        await settle(lambda: release(claim=outcome))
        raise
    except BaseException:
        await settle(lambda: release(claim=outcome))
        raise


_pending: set[asyncio.Task] = set()


async def settle(record: Callable[[], Awaitable[object]], patience: float = 60.0) -> None:
    """Record a key's outcome now, or (the database being down) keep trying in the background:
    a key left "in flight" would make the caller's retries wait until it is stale."""
    try:
        await record()
        return
    except KeyTakenOver:
        return
    except Exception as exc:  # noqa: BLE001 - any failure here is retried, then logged
        log.warning("idempotency outcome not recorded yet (%s); retrying in the background", exc)

    async def retry() -> None:
        delay, deadline = 0.25, time.monotonic() + patience
        while time.monotonic() < deadline:
            await asyncio.sleep(delay)
            try:
                await record()
                return
            except KeyTakenOver:
                return
            except Exception:  # noqa: BLE001
                delay = min(delay * 2, 5.0)
        log.error("idempotency outcome lost after %.0f s; the key is taken over when stale",
                  patience)

    task = asyncio.create_task(retry())
    _pending.add(task)
    task.add_done_callback(_pending.discard)
