"""503 + Retry-After when the database fails under a middleware (authentication, idempotency).

Route handlers have their own mapping (app/rest/errors.py); app/middleware.py's EdgeMiddleware
catches `UNAVAILABLE` raised before them — the credential lookup of a request arriving while
PostgreSQL restarts or the pool is saturated — and answers `unavailable()`, so that no such
request ends in a 500 or a dropped connection.
"""

from __future__ import annotations

import json
import logging

from starlette.types import Send
from tortoise.exceptions import DBConnectionError, OperationalError

log = logging.getLogger("buildstate.unavailable")

RETRY_AFTER_SECONDS = 2
UNAVAILABLE = (DBConnectionError, OperationalError, ConnectionError, TimeoutError)


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
