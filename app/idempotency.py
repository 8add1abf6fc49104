"""`Idempotency-Key` on REST POSTs: a retried request gets the first answer, never a second row.

Pure ASGI middleware, placed after authentication (keys belong to the actor that used them).
It reads the body and runs the request through `app.services.idempotency.run_once`: the key is
claimed first (the unique index decides between concurrent duplicates; the others wait for the
winner's answer), then the request runs in a transaction that also stores its answer when it
is final (< 500, not 429), so the change and the answer to replay commit together. The answer
is sent only after that commit. Server errors roll the request back and release the key, so
that a retry runs it again. GraphQL has its own `idempotencyKey` argument (same service).
"""

from __future__ import annotations

import json
import logging

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services import idempotency
from app.services.errors import Conflict, ValidationFailed
from app.middleware import replaying
from app.settings import Settings
from app.unavailable import UNAVAILABLE, unavailable

log = logging.getLogger("buildstate.idempotency")

HEADER = "idempotency-key"
REPLAYED = b"idempotent-replayed"
_NOT_KEPT = {408, 425, 429}
# GraphQL has its own argument; /auth/ and /webhook-subscriptions answers carry secrets (tokens,
# plain keys, signing secrets) that must not be stored in the key table; /webhooks/ callers are
# CI systems authenticated by signature, not by a credential.
SKIP_PREFIXES = ("/graphql", "/auth/", "/webhook-subscriptions", "/webhooks/")


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
        messages: list[Message] = []

        async def run() -> idempotency.Answer:
            # Runs inside the transaction that also stores the answer (see run_once).
            messages.clear()

            async def buffered(message: Message) -> None:
                messages.append(message)

            await self.app(scope, replaying(body, receive), buffered)
            start = next((m for m in messages if m["type"] == "http.response.start"), None)
            status = start["status"] if start else 500
            answer = b"".join(
                m.get("body", b"") for m in messages if m["type"] == "http.response.body"
            )
            return idempotency.Answer(
                status, answer.decode("utf-8", "replace"),
                keep=status < 500 and status not in _NOT_KEPT,
            )

        try:
            answer, replayed = await idempotency.run_once(
                actor=actor, key=key, method="POST", path=path,
                digest=idempotency.body_hash(body), work=run,
                ttl_seconds=self.settings.idempotency_ttl_seconds,
                wait_seconds=self.settings.idempotency_wait_seconds,
            )
        except ValidationFailed as exc:  # a malformed key, or a key reused for another request
            await _json(send, 422,
                        {"detail": exc.message, "code": exc.code, "field": HEADER.title()})
            return
        except Conflict as exc:  # still running, or taken over by a retry
            await _json(send, 409, {"detail": exc.message, "code": exc.code},
                        [(b"retry-after", b"1")])
            return
        except UNAVAILABLE as exc:
            log.error("idempotency store unavailable: %s", exc)
            await unavailable(send)
            return
        except Exception:
            # The app failed and answered with its own 500 (JSON with the request id) before
            # raising, as it does without a key; the request was rolled back and the key freed.
            # Send that answer (only a server error: a buffered success whose commit failed must
            # not be sent), then let the error reach the server's log as it would without a key.
            start = next((m for m in messages if m["type"] == "http.response.start"), None)
            if start is not None and start["status"] >= 500:
                for message in messages:
                    await send(message)
            raise
        if replayed:
            await _replay(send, answer)
            return
        for message in messages:  # only now: the change and its kept answer are committed
            await send(message)


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


async def _replay(send: Send, replay: idempotency.Answer) -> None:
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
