"""503 + Retry-After when the database fails under a middleware (authentication, idempotency).

Route handlers have their own mapping (app/rest/errors.py); this catches what happens before
them — the credential lookup of a request arriving while PostgreSQL restarts or the pool is
saturated — so that no such request ends in a 500 or a dropped connection.
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise.exceptions import DBConnectionError, OperationalError

log = logging.getLogger("buildstate.unavailable")

RETRY_AFTER_SECONDS = 2
UNAVAILABLE = (DBConnectionError, OperationalError, ConnectionError, TimeoutError)


class DatabaseUnavailableMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except UNAVAILABLE as exc:
            if started:
                raise
            log.error("database unavailable request_id=%s: %s",
                      scope.get("state", {}).get("request_id"), exc)
            await unavailable(send)


async def unavailable(send: Send, retry_after: int = RETRY_AFTER_SECONDS) -> None:
    body = json.dumps({"detail": "the database is unavailable; retry shortly",
                       "code": "UNAVAILABLE"}).encode()
    await send({
        "type": "http.response.start", "status": 503,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode())],
    })
    await send({"type": "http.response.body", "body": body})
