"""The two hottest REST routes served straight from the outer Starlette router.

`GET /builds/{build_id}/resume-context` and `POST /builds/{build_id}/artifacts` answer here,
before `Mount("", rest)`, without FastAPI's per-request machinery (its own middleware stack,
the linear walk over the included routers, dependency solving). The FastAPI routes stay: they
document the API in /openapi.json, and every request this module does not fully understand is
handed to them unchanged (`_delegate`), so the answers are the FastAPI routes' by construction:

- the read answers here only without a query string (`?reveal=...` and anything else: FastAPI);
- the write answers here only for a body that is `Content-Type: application/json`, valid JSON
  and a valid `RegisterArtifact`; any other body (422, 400, a read error, a 413 raised while
  reading) goes to FastAPI with the bytes already read replayed to it;
- authentication and scope are checked as `require(scope)` does (after the body, as FastAPI
  does: it reads the body before solving dependencies), and the service is the same function;
- errors go through the REST app's own exception handlers, looked up as Starlette does; an
  exception no handler takes is answered by the REST app's 500 handler and raised again, as
  FastAPI's ServerErrorMiddleware does.

tests/rest/test_fast_routes.py pins that both paths answer byte for byte alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Mount, get_route_path
from starlette.types import Message, Receive, Scope, Send

from app.rest.artifacts import register_artifact_response
from app.rest.deps import authorize
from app.rest.resume import resume_context_response
from app.services import artifacts, context
from app.services.commands import RegisterArtifact

Endpoint = Callable[["FastRoute", Scope, Receive, Send], Awaitable[None]]


class FastRoute(BaseRoute):
    """Matches one method on one `/builds/{build_id}/<suffix>` template; anything else is no
    match at all (not a partial one), so the router goes on to the REST mount, which answers
    405s, HEAD, slashes and the rest exactly as before."""

    def __init__(
        self, method: str, suffix: str, endpoint: Endpoint, rest: FastAPI, mount: Mount
    ) -> None:
        self.method = method
        # The template's label in metrics and access logs (app/metrics.py, app/logging.py).
        self.path = self.path_format = f"/builds/{{build_id}}/{suffix}"
        # Starlette's `{name}` (a str convertor) matches `[^/]+`.
        self._regex = re.compile(rf"^/builds/(?P<build_id>[^/]+)/{re.escape(suffix)}$")
        self._endpoint = endpoint
        self.rest = rest
        self.mount = mount
        handlers = dict(rest.exception_handlers)
        # As FastAPI.build_middleware_stack splits them: the 500 handler answers last.
        self._server_error = handlers.pop(Exception, None) or handlers.pop(500, None)
        handlers.pop(500, None)
        self._handlers = handlers

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["method"] == self.method:
            found = self._regex.match(get_route_path(scope))
            if found is not None:
                return Match.FULL, {"path_params": {"build_id": found["build_id"]}}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params):  # pragma: no cover - never named
        from starlette.routing import NoMatchFound

        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._endpoint(self, scope, receive, send)

    async def delegate(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What the router would have done without this route: the REST mount answers."""
        match, child_scope = self.mount.matches(scope)
        assert match is Match.FULL
        scope["route"] = self.mount
        scope.update(child_scope)
        await self.mount.handle(scope, receive, send)

    async def answer_error(self, scope: Scope, receive: Receive, send: Send, exc: Exception):
        """The REST app's handler for `exc`, as its ExceptionMiddleware / ServerErrorMiddleware
        would pick and run it."""
        request = Request(scope, receive)
        handler = None
        if isinstance(exc, HTTPException):
            handler = self._handlers.get(exc.status_code)
        if handler is None:
            for cls in type(exc).__mro__:
                if cls in self._handlers:
                    handler = self._handlers[cls]
                    break
        if handler is None:
            if self._server_error is not None:
                response = await self._server_error(request, exc)
                await response(scope, receive, send)
            raise exc
        response = await handler(request, exc)
        if response is not None:
            await response(scope, receive, send)


async def resume_context_endpoint(
    route: FastRoute, scope: Scope, receive: Receive, send: Send
) -> None:
    if scope.get("query_string"):  # `reveal` (or anything else) to parse: FastAPI does it
        await route.delegate(scope, receive, send)
        return
    try:
        actor = authorize(scope["user"], "read")
        ctx = await context.get_resume_context(
            actor=actor, build_id=scope["path_params"]["build_id"], reveal=False
        )
        response = resume_context_response(ctx)
    except Exception as exc:
        await route.answer_error(scope, receive, send, exc)
        return
    await response(scope, receive, send)


def _content_type(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value
    return None


async def register_artifact_endpoint(
    route: FastRoute, scope: Scope, receive: Receive, send: Send
) -> None:
    received: list[Message] = []
    failure: Exception | None = None
    try:
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
    except Exception as exc:  # e.g. the body bound: FastAPI meets it while reading, too
        failure = exc
    command = None
    if failure is None and received and received[-1]["type"] == "http.request":
        body = b"".join(m.get("body", b"") for m in received)
        if body and _content_type(scope) == b"application/json":
            try:
                # What FastAPI does: Request.json() (the standard library's json.loads), then
                # the body field's python-mode validation.
                command = RegisterArtifact.model_validate(json.loads(body), from_attributes=True)
            except Exception:  # not JSON, not UTF-8, too deep, not a RegisterArtifact: FastAPI
                command = None
    if command is None:
        await route.delegate(scope, _replaying(received, failure, receive), send)
        return
    try:
        actor = authorize(scope["user"], "write")
        row = await artifacts.register_artifact(
            actor=actor, build_id=scope["path_params"]["build_id"], command=command
        )
        response = register_artifact_response(row)
    except Exception as exc:
        await route.answer_error(scope, receive, send, exc)
        return
    await response(scope, receive, send)


def _replaying(received: list[Message], failure: Exception | None, receive: Receive) -> Receive:
    """`receive` as FastAPI would have met it: the same messages, then the same failure."""
    pending = list(received)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        if failure is not None:
            raise failure
        return await receive()

    return replay


def fast_routes(rest: FastAPI, mount: Mount) -> list[BaseRoute]:
    return [
        FastRoute("GET", "resume-context", resume_context_endpoint, rest, mount),
        FastRoute("POST", "artifacts", register_artifact_endpoint, rest, mount),
    ]


__all__ = ["FastRoute", "fast_routes"]
