"""Pure ASGI middleware: the edge of every request (request id, log context, metrics, the body
bound, database outages) and the SQL statement count."""

from __future__ import annotations

import json
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging import enter_request, leave_request
from app.metrics import (
    count_http_failure, is_token_scrape, observe_http, render_metrics, route_template,
)
from app.unavailable import UNAVAILABLE, unavailable
from app.unavailable import log as unavailable_log
from db import sqlcount

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# uuid4's version (4) and variant (RFC 4122) bits, set on 128 random bits.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_request_id() -> str:
    """`uuid.uuid4().hex`: the same 32 hex digits of 16 random bytes with the version and variant
    set as uuid.UUID(version=4) sets them, without building a UUID object (its checks cost
    ~1 us per request). tests/observability/test_h7_metrics.py compares both."""
    n = int.from_bytes(os.urandom(16), "big")
    return format((n & _UUID4_CLEAR) | _UUID4_SET, "032x")


class EdgeMiddleware:
    """The outer layers of every request, in one pure-ASGI layer (one frame and one `send`
    wrapper instead of five; the order below is the order they had as separate middlewares):

    1. request id: the caller's X-Request-ID when it is sane, else a new one; in
       `scope["state"]["request_id"]` and echoed on the answer (HTTP and WebSocket);
    2. log context: the scope is visible to log records while the request runs; an access line
       per HTTP request (app/logging.py);
    3. metrics: every HTTP request counted and timed by route template; a GET /metrics with the
       metrics token is answered here (app/metrics.py);
    4. body bound: bodies over `max_bytes` are refused with 413, announced or streamed;
    5. database unavailable: `UNAVAILABLE` raised before the answer started becomes a 503 with
       Retry-After (app/unavailable.py).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, metrics_token: str | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.token = metrics_token.encode() if metrics_token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind != "websocket":
                await self.app(scope, receive, send)
                return
            given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
            scope.setdefault("state", {})["request_id"] = (
                given if _SAFE_ID.match(given) else new_request_id()
            )
            token = enter_request(scope)
            try:
                await self.app(scope, receive, send)
            finally:
                leave_request(scope, token, 0, 0.0)  # no access line for WebSockets
            return

        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode())
        log_token = enter_request(scope)
        started_at = time.perf_counter()
        status = 500
        started = False

        async def edge_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [id_header]
            await send(message)

        try:
            try:
                if is_token_scrape(self.token, scope, headers):
                    body, content_type = await render_metrics()
                    await edge_send({"type": "http.response.start", "status": 200, "headers": [
                        (b"content-type", content_type.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ]})
                    await edge_send({"type": "http.response.body", "body": body})
                    template = "/metrics"
                else:
                    length = headers.get(b"content-length")
                    if length is not None and (
                        not length.isdigit() or int(length) > self.max_bytes
                    ):
                        await _too_large(edge_send, self.max_bytes)
                    else:
                        max_bytes = self.max_bytes
                        seen = 0

                        async def bounded_receive() -> Message:
                            nonlocal seen
                            message = await receive()
                            if message["type"] == "http.request":
                                seen += len(message.get("body", b""))
                                if seen > max_bytes:
                                    raise _BodyTooLarge
                            return message

                        try:
                            try:
                                await self.app(scope, bounded_receive, edge_send)
                            except UNAVAILABLE as exc:
                                if started:
                                    raise
                                unavailable_log.error(
                                    "database unavailable request_id=%s: %s", request_id, exc
                                )
                                await unavailable(edge_send)
                        except _BodyTooLarge:
                            if not started:
                                await _too_large(edge_send, max_bytes)
                    template = route_template(scope, status)
            except Exception:
                count_http_failure(scope)
                raise
            observe_http(scope, template, status, time.perf_counter() - started_at)
        finally:
            leave_request(scope, log_token, status, started_at)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, max_bytes: int) -> None:
    body = json.dumps({"detail": f"request body is larger than {max_bytes} bytes"}).encode()
    await send({
        "type": "http.response.start", "status": 413,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


class SqlCountMiddleware:
    """`X-SQL-Statements: N` on every HTTP answer: the statements the request sent to PostgreSQL
    before its answer started (BUILDSTATE_COUNT_SQL=1; db.sqlcount says what counts). Outermost,
    so that authentication and idempotency lookups count too. SQLite sends no header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with sqlcount.counting() as counter:

            async def send_with_count(message: Message) -> None:
                if message["type"] == "http.response.start" and sqlcount.supported():
                    message["headers"] = list(message.get("headers") or []) + [
                        (b"x-sql-statements", str(counter.statements).encode())
                    ]
                await send(message)

            await self.app(scope, receive, send_with_count)


def replaying(body: bytes, receive: Receive) -> Receive:
    """The request's receive with its body, already read, delivered again first."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
