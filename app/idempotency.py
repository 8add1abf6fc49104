"""`Idempotency-Key` on REST POSTs: a retried request gets the first answer, never a second row.

Pure ASGI middleware, placed after authentication (keys belong to the actor that used them).
It reads the body, claims the key through `app.services.idempotency` (the unique index decides
between concurrent duplicates; the others wait for the winner's answer), runs the request,
keeps the answer when it is final (< 500, not 429) and replays it for the same key and body.
Server errors release the key, so that a retry runs the request again. GraphQL has its own
`idempotencyKey` argument and is not handled here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services import idempotency
from app.services.errors import Conflict, ValidationFailed
from app.settings import Settings
from app.unavailable import UNAVAILABLE, unavailable

log = logging.getLogger("buildstate.idempotency")

HEADER = "idempotency-key"
REPLAYED = b"idempotent-replayed"
_NOT_KEPT = {408, 425, 429}
# GraphQL has its own argument; /auth/ answers carry secrets (tokens, plain keys) that must not
# be stored; /webhooks/ callers are CI systems authenticated by signature, not by a credential.
SKIP_PREFIXES = ("/graphql", "/auth/", "/webhooks/")


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "POST" or path.startswith(SKIP_PREFIXES):
            await self.app(scope, receive, send)
            return
        key = Headers(scope=scope).get(HEADER)
        actor = getattr(scope.get("user"), "actor", None)
        if key is None or actor is None:  # no key: nothing to do; no actor: the app answers 401
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        try:
            outcome = await idempotency.claim(
                actor=actor, key=key, method="POST", path=scope["path"],
                digest=idempotency.body_hash(body),
                ttl_seconds=self.settings.idempotency_ttl_seconds,
                wait_seconds=self.settings.idempotency_wait_seconds,
            )
        except ValidationFailed as exc:
            await _json(send, 422,
                        {"detail": exc.message, "code": exc.code, "field": HEADER.title()})
            return
        except Conflict as exc:
            await _json(send, 409, {"detail": exc.message, "code": exc.code},
                        [(b"retry-after", b"1")])
            return
        except UNAVAILABLE as exc:
            log.error("idempotency store unavailable: %s", exc)
            if isinstance(exc, idempotency.ClaimUncertain):  # free the key once the DB is back
                uncertain = exc.claim
                await _settle(lambda: idempotency.release(claim=uncertain))
            await unavailable(send)
            return
        if isinstance(outcome, idempotency.Replay):
            await _replay(send, outcome)
            return
        await self._run(scope, body, receive, send, outcome)

    async def _run(
        self, scope: Scope, body: bytes, receive: Receive, send: Send, claim: idempotency.Claim
    ) -> None:
        messages: list[Message] = []

        async def buffered(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, _replaying(body, receive), buffered)
        except BaseException:
            await _settle(lambda: idempotency.release(claim=claim))
            raise
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        status = start["status"] if start else 500
        if status < 500 and status not in _NOT_KEPT:
            answer = b"".join(
                m.get("body", b"") for m in messages if m["type"] == "http.response.body"
            )
            await _settle(lambda: idempotency.complete(
                claim=claim, status_code=status, body=answer.decode("utf-8", "replace")
            ))
        else:
            await _settle(lambda: idempotency.release(claim=claim))
        for message in messages:
            await send(message)


_pending: set[asyncio.Task] = set()


async def _settle(record: Callable[[], Awaitable[None]], patience: float = 60.0) -> None:
    """Record the outcome now, or (the database being down) keep trying in the background:
    the answer was produced and must not become an error, and a key left "in flight" would
    make the caller's retries wait (see app.services.idempotency)."""
    try:
        await record()
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
            except Exception:  # noqa: BLE001
                delay = min(delay * 2, 5.0)
        log.error("idempotency outcome lost after %.0f s; the key is taken over when stale",
                  patience)

    task = asyncio.create_task(retry())
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _replay(send: Send, replay: idempotency.Replay) -> None:
    body = replay.body.encode()
    headers = [(REPLAYED, b"true"), (b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": replay.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Send, status: int, payload: dict, extra: list | None = None) -> None:
    body = json.dumps(payload).encode()
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()), *(extra or [])],
    })
    await send({"type": "http.response.body", "body": body})
