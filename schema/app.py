"""The ASGI GraphQL application mounted at /graphql by app.main."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
from cross_web import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLRequestData, process_result
from strawberry.http.async_base_view import AsyncBaseHTTPView
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.middleware import replaying
from app.settings import Settings
from schema.context import Context
from schema.schema import schema
from schema.subscriptions import authenticate_connection

GRAPHIQL_HTML = Path(__file__).with_name("graphiql.html")

# The fast path's request: POST, a JSON body, nothing streamed. The Content-Type values it takes,
# as sent (Strawberry compares the media type case-sensitively: `Application/JSON` is its 400);
# any other (multipart, another charset, other parameters…) goes to Strawberry.
FAST_CONTENT_TYPES = frozenset({
    b"application/json",
    b"application/json; charset=utf-8", b"application/json;charset=utf-8",
    b"application/json; charset=UTF-8", b"application/json;charset=UTF-8",
})
# orjson reads an integer beyond 64 bits as a float, the standard parser as the exact integer
# (a GraphQL Int error names the value): a body with 19 digits in a row goes to Strawberry.
LONG_DIGITS = re.compile(rb"\d{19}")
# The same test without the regex engine's attempt at every offset (~4.5 us for a 460-byte
# write): the body with each ASCII digit as 1 and any other byte as 0, searched for 19 ones
# (`\d` of a bytes pattern is [0-9]). tests/graphql/test_h8_view_hooks.py compares both.
_DIGIT_MAP = bytes(1 if 0x30 <= b <= 0x39 else 0 for b in range(256))
_DIGIT_RUN = b"\x01" * 19


def has_long_digits(body: bytes) -> bool:
    """`LONG_DIGITS.search(body) is not None`."""
    return _DIGIT_RUN in body.translate(_DIGIT_MAP)


# Strawberry's hooks whose own (not overridden) bodies the fast path runs inline, without a
# coroutine each: their defaults, as GraphQL and AsyncBaseHTTPView define them.
_DEFAULT_ROOT_VALUE = GraphQL.get_root_value
_DEFAULT_SUB_RESPONSE = GraphQL.get_sub_response
_DEFAULT_EXECUTE_SINGLE = AsyncBaseHTTPView.execute_single
_DEFAULT_PROCESS_RESULT = AsyncBaseHTTPView.process_result


class _PostAdapter:
    """What Strawberry's execute_single reads of its request adapter: the method."""

    method = "POST"


POST_ADAPTER = _PostAdapter()


class BuildstateGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with a typed context and a GraphiQL page served without a CDN."""

    # POST + JSON answered without Strawberry's generic request handling (see __call__); off:
    # every request takes Strawberry's own path (tests compare the two byte for byte).
    fast_path = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The common request — POST, `Content-Type: application/json`, a JSON object with a
        string `query` — answered with the same bytes as Strawberry's AsyncBaseHTTPView.run,
        without its per-request generic work (request adapter, e-mail header parsing of the
        content type and Accept, stdlib JSON, GraphQLRequestData, the streaming/batch branches,
        a str body re-encoded by the Response). The same hooks run with the same arguments:
        get_root_value, get_sub_response, get_context, execute_single (schema.execute with the
        POST operation types, its 400s), process_result, _handle_errors; the answer is
        create_response's (content-length, content-type, then the sub-response's headers, its
        status if set, its background task). Anything else goes to Strawberry unchanged, with
        the body replayed if it was read."""
        if (
            not self.fast_path
            or scope["type"] != "http"
            or scope["method"] != "POST"
            or not _fast_headers(scope["headers"])
            # Incremental delivery (@defer/@stream) answers in parts (multipart): Strawberry's.
            or self.schema.config.enable_experimental_incremental_execution
        ):
            await super().__call__(scope, receive, send)
            return

        body = await read_body(receive)
        # Replayed: whatever reads the request's body later (none of the resolvers does) gets
        # the same bytes, as from Request.body's cache.
        request = Request(scope, replaying(body, receive))
        data = _fast_request_data(body)
        if data is None:
            await super().__call__(scope, replaying(body, receive), send)
            return

        try:
            # Each hook as Strawberry's run calls it, in the same order; a hook this class (or
            # the instance) does not override runs as its default body, inline, without a
            # coroutine (~0.3 us each); tests/graphql/test_h8_view_hooks.py compares both.
            cls = type(self)
            own = self.__dict__
            if cls.get_root_value is _DEFAULT_ROOT_VALUE and "get_root_value" not in own:
                root_value = None
            else:
                root_value = await self.get_root_value(request)
            if cls.get_sub_response is _DEFAULT_SUB_RESPONSE and "get_sub_response" not in own:
                sub_response = plain_sub_response()
            else:
                sub_response = await self.get_sub_response(request)
            if cls.get_context is _OWN_CONTEXT and "get_context" not in own:
                user = scope.get("user")
                context = Context(
                    request=request, response=sub_response,
                    actor=getattr(user, "actor", None), settings=self.settings,
                )
            else:
                context = await self.get_context(request, response=sub_response)
            if cls.execute_single is _DEFAULT_EXECUTE_SINGLE and "execute_single" not in own:
                result = await self._execute_post(context, root_value, data)
            else:
                result = await self.execute_single(
                    request=request,
                    request_adapter=POST_ADAPTER,  # type: ignore[arg-type]
                    sub_response=sub_response,
                    context=context,
                    root_value=root_value,
                    request_data=data,
                )
            if cls.process_result is _DEFAULT_PROCESS_RESULT and "process_result" not in own:
                response_data = process_result(result)
            else:
                response_data = await self.process_result(request=request, result=result)
            if result.errors:
                self._handle_errors(result.errors, response_data)
        except HTTPException as e:  # as GraphQL.__call__ renders them
            await PlainTextResponse(e.reason, status_code=e.status_code)(scope, receive, send)
            return

        # GraphQL.create_response: Response(encode_json(data), 200, "application/json"), the
        # sub-response's raw headers appended, its status if set, its background task.
        content = self.json_bytes(response_data)  # encode_json's text, not decoded and re-encoded
        headers = [
            (b"content-length", str(len(content)).encode("latin-1")),
            (b"content-type", b"application/json"),
        ]
        headers.extend(sub_response.headers.raw)
        await send({
            "type": "http.response.start",
            "status": sub_response.status_code or 200,
            "headers": headers,
        })
        await send({"type": "http.response.body", "body": content})
        if sub_response.background is not None:
            await sub_response.background()

    async def _execute_post(
        self, context: Context, root_value: object, data: GraphQLRequestData
    ) -> ExecutionResult:
        """AsyncBaseHTTPView.execute_single (Strawberry 0.341.2) for a POST: schema.execute with
        the operation types a POST allows (a new set each time, as OperationType.from_http
        makes one) and the same 400s for its errors. test_h8_view_hooks compares the arguments
        schema.execute receives; test_http_view_fast the 400s."""
        try:
            return await self.schema.execute(
                data.query,
                root_value=root_value,
                variable_values=data.variables,
                context_value=context,
                operation_name=data.operation_name,
                allowed_operation_types={
                    OperationType.QUERY, OperationType.MUTATION, OperationType.SUBSCRIPTION,
                },
                operation_extensions=data.extensions,
            )
        except CannotGetOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason()) from e
        except InvalidOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason("POST")) from e
        except MissingQueryError as e:
            raise HTTPException(400, "No GraphQL query found in the request") from e

    def encode_json(self, data: object) -> str | bytes:
        # A str, as Strawberry's own (multipart and WebSocket paths expect one).
        return self.json_bytes(data).decode()

    def json_bytes(self, data: object) -> bytes:
        # orjson: the same JSON several times faster (a resume context is ~26 KB). An integer
        # beyond 64 bits in a JSON scalar is the one value it refuses: the standard encoder
        # writes it as the exact number it is (ASCII: escapes for anything else).
        try:
            return orjson.dumps(data)
        except TypeError:
            return GraphQL.encode_json(self, data).encode()

    async def on_ws_connect(self, context: Context) -> None:
        # Subscriptions authenticate once, with the credential in the connection_init payload.
        await authenticate_connection(context, self.settings)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        # The gate (app/gate.py) already authenticated: an Actor, or an anonymous user.
        # (__call__'s fast path makes the same Context inline when this is not overridden.)
        user = request.scope.get("user")
        return Context(
            request=request,
            response=response,
            actor=getattr(user, "actor", None),
            settings=self.settings,
        )

    @property
    def graphql_ide_html(self) -> str:
        # Loads React and GraphiQL from /static/graphiql/ (vendored in app/static/graphiql).
        return GRAPHIQL_HTML.read_text(encoding="utf-8")

    async def render_graphql_ide(self, request: Request) -> Response:
        # The page is open to everyone; every field it queries still needs a credential.
        return HTMLResponse(self.graphql_ide_html, headers={"Cache-Control": "no-store"})


_OWN_CONTEXT = BuildstateGraphQL.get_context  # inlined by __call__ when not overridden


def _fast_headers(headers: list[tuple[bytes, bytes]]) -> bool:
    """A JSON POST the fast path may answer: one Content-Type, as FAST_CONTENT_TYPES lists, and
    at most one Accept, not asking for a streamed answer (multipart, server-sent events)."""
    content_type = accept = None
    for name, value in headers:
        if name == b"content-type":
            if content_type is not None:
                return False
            content_type = value
        elif name == b"accept":
            if accept is not None:
                return False
            accept = value.lower()
    if content_type not in FAST_CONTENT_TYPES:
        return False
    return accept is None or (b"multipart" not in accept and b"event-stream" not in accept)


async def read_body(receive: Receive) -> bytes:
    """What `Request(scope, receive).body()` returns (its ClientDisconnect too), without the
    async generator it creates, registers with the loop's hooks and closes for every request:
    the bodies of the http.request messages up to the last one. Other messages are skipped, as
    Request.stream skips them. tests/hardening/test_h4_read_body.py compares the two."""
    chunks = []
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif kind == "http.disconnect":
            raise ClientDisconnect()


def plain_sub_response() -> Response:
    """What GraphQL.get_sub_response returns — `Response()` with its status set to None and its
    content-length header deleted — built without Response.__init__'s rendering and header
    assembly and MutableHeaders' delete (~1.2 us): an empty body, no background task, no raw
    headers. Relies on Starlette 1.10's Response keeping these four attributes (and the
    `headers` property making its MutableHeaders over `raw_headers` on first use);
    tests/graphql/test_h8_view_hooks.py compares both objects' attributes and behaviour."""
    response = object.__new__(Response)
    fields = response.__dict__
    fields["status_code"] = None
    fields["background"] = None
    fields["body"] = b""
    fields["raw_headers"] = []
    return response


def _fast_request_data(body: bytes) -> GraphQLRequestData | None:
    """The operation of a JSON body the fast path answers as Strawberry would, else None
    (Strawberry's parse_http_body then answers: its 400s, batches, a null query…)."""
    if has_long_digits(body):
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:  # the standard parser may still read it (NaN, a BOM…)
        return None
    if type(data) is not dict:
        return None
    query = data.get("query")
    variables = data.get("variables")
    operation_name = data.get("operationName")
    extensions = data.get("extensions")
    if (
        type(query) is not str
        or not (variables is None or type(variables) is dict)
        or not (operation_name is None or type(operation_name) is str)
        or not (extensions is None or type(extensions) is dict)
    ):
        return None
    return GraphQLRequestData(
        query=query, variables=variables, operation_name=operation_name,
        extensions=extensions, protocol="http",
    )


def create_graphql_app(settings: Settings) -> BuildstateGraphQL:
    return BuildstateGraphQL(settings)
