"""schema/app.py's fast path runs the hooks it does not see overridden as their default bodies,
inline (get_root_value, get_sub_response, get_context, execute_single, process_result), and
tests a body for long digit runs without the regex. Here each shortcut against what it stands for:

- has_long_digits against LONG_DIGITS (the regex it replaces) on many bodies;
- plain_sub_response against GraphQL.get_sub_response: the same attributes and the same
  behaviour when a resolver sets status, headers, cookies, a background task;
- the whole view (get_context, the view's own hook, inlined too): schema.execute receives the same arguments (root value, variables, operation
  name, allowed operation types, extensions, a context of the same shape) and the answer is the
  same bytes with the hooks inlined as with Strawberry's own request handling; and a hook that
  is overridden (on the class or on the instance) is called, with its result used.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from starlette.background import BackgroundTask
from starlette.responses import Response
from strawberry.asgi import GraphQL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.settings import Settings
from schema.app import (
    LONG_DIGITS,
    BuildstateGraphQL,
    has_long_digits,
    plain_sub_response,
)
from schema.context import Context
from schema.schema import schema


def _bodies() -> list[bytes]:
    rnd = random.Random(8)
    bodies = [b"", b"0" * 18, b"0" * 19, b"9" * 40, b"x" + b"1" * 19, b"1" * 18 + b"x" + b"1",
              "٠١٢٣٤٥٦٧٨٩".encode() * 4,  # Arabic-Indic digits: not \d of a bytes pattern
              b"\xff" * 30, bytes(range(256)) * 2,
              b'{"query": "q", "variables": {"n": 123456789012345678901234567890}}',
              b'{"query": "q", "variables": {"n": -9223372036854775808}}',
              b'{"query": "q", "variables": {"n": 1234567890123456789.5}}']
    for _ in range(3000):
        alphabet = rnd.choice([b"0123456789", b"0123456789a", b"0123456789/:", bytes(range(256))])
        size = rnd.randrange(0, 80)
        bodies.append(bytes(rnd.choice(alphabet) for _ in range(size)))
    for n in range(15, 24):  # runs of every length around 19, at the edges and inside
        for run in (b"7" * n, bytes(rnd.choice(b"0123456789") for _ in range(n))):
            bodies += [run, b"a" + run, run + b"a", b"[" + run + b"]" + b"1" * 18]
    return bodies


def test_has_long_digits_is_the_regex() -> None:
    bodies = _bodies()
    answers = [has_long_digits(b) for b in bodies]
    assert answers == [LONG_DIGITS.search(b) is not None for b in bodies]
    assert any(answers) and not all(answers)


def _strawberry_sub_response() -> Response:
    import asyncio

    view = BuildstateGraphQL(Settings())
    return asyncio.run(GraphQL.get_sub_response(view, None))  # type: ignore[arg-type]


def _state(response: Response) -> dict[str, Any]:
    return {"type": type(response), "status_code": response.status_code,
            "background": response.background, "body": response.body,
            "raw_headers": list(response.raw_headers), "headers.raw": list(response.headers.raw),
            "media_type": response.media_type, "charset": response.charset}


def test_plain_sub_response_is_strawberrys() -> None:
    ours, theirs = plain_sub_response(), _strawberry_sub_response()
    assert _state(ours) == _state(theirs)
    # After the first use of `headers`, the same attributes, the header list shared alike.
    assert vars(ours).keys() == vars(theirs).keys()
    assert {k: v for k, v in vars(ours).items() if k != "_headers"} == {
        k: v for k, v in vars(theirs).items() if k != "_headers"}
    assert ours.headers.raw is ours.raw_headers
    assert theirs.headers.raw is theirs.raw_headers
    # Two calls: two objects, nothing shared.
    assert plain_sub_response().raw_headers is not plain_sub_response().raw_headers


def test_what_a_resolver_does_to_either_sub_response_is_the_same() -> None:
    task = BackgroundTask(print)

    def use(response: Response) -> dict[str, Any]:
        response.status_code = 202
        response.headers["X-One"] = "1"
        response.headers.append("X-One", "2")
        response.set_cookie("a", "1", max_age=5)
        response.delete_cookie("b")
        response.headers["content-length"] = "3"
        del response.headers["content-length"]
        response.background = task
        return _state(response)

    assert use(plain_sub_response()) == use(_strawberry_sub_response())


# The whole view, called as an ASGI app without the rest of the application: schema.execute
# replaced by a recorder, so only what the view does is compared.

VARIABLES = {"n": 1, "s": "é✓", "o": {"a": [1, None]}}
BODY = orjson.dumps({"query": "query Q($n: Int){ __typename }", "variables": VARIABLES,
                     "operationName": "Q", "extensions": {"x": 1}})


async def _call(view: BuildstateGraphQL, body: bytes = BODY) -> tuple[int, list, bytes]:
    scope = {"type": "http", "method": "POST", "path": "/graphql", "root_path": "",
             "query_string": b"", "headers": [(b"content-type", b"application/json")],
             "state": {}, "user": None}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    out: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        out.append(message)

    await view(scope, receive, send)
    return out[0]["status"], out[0]["headers"], b"".join(m.get("body", b"") for m in out[1:])


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    async def execute(query: str, **kwargs: Any) -> ExecutionResult:
        calls.append({"query": query, **kwargs})
        context = kwargs["context_value"]
        context.response.headers["X-Seen"] = "yes"
        if kwargs["root_value"] == "ROOT":
            return ExecutionResult(data={"root": "ROOT"}, errors=None)
        return ExecutionResult(data={"__typename": "Query"}, errors=None, extensions={"e": 1})

    monkeypatch.setattr(schema, "execute", execute)
    return calls


def _comparable(call: dict[str, Any]) -> dict[str, Any]:
    context = call["context_value"]
    assert type(context) is Context
    assert type(call["allowed_operation_types"]) is set
    return {**{k: v for k, v in call.items() if k != "context_value"},
            "context": (context.actor, context.settings, type(context.request),
                        context.request.scope["path"], _state(context.response),
                        context.connection_params, sorted(vars(context)))}


async def test_inlined_hooks_pass_and_answer_what_strawberry_does(
    recorded, monkeypatch: pytest.MonkeyPatch,
) -> None:
    view = BuildstateGraphQL(Settings())
    monkeypatch.setattr(BuildstateGraphQL, "fast_path", False)
    slow = await _call(view)
    monkeypatch.setattr(BuildstateGraphQL, "fast_path", True)
    fast = await _call(view)
    assert fast == slow
    assert slow[0] == 200 and (b"x-seen", b"yes") in slow[1]
    strawberry_call, fast_call = recorded
    assert _comparable(fast_call) == _comparable(strawberry_call)
    assert fast_call["allowed_operation_types"] == OperationType.from_http("POST")
    assert fast_call["root_value"] is None
    assert fast_call["variable_values"] == VARIABLES and fast_call["operation_name"] == "Q"
    # A new set of operation types every time, as OperationType.from_http makes one.
    await _call(view)
    assert recorded[2]["allowed_operation_types"] is not fast_call["allowed_operation_types"]


HOOKS = ["get_root_value", "get_sub_response", "get_context", "execute_single", "process_result"]


@pytest.mark.parametrize("where", ["class", "instance"])
@pytest.mark.parametrize("hook", HOOKS)
async def test_an_overridden_hook_is_called(
    recorded, monkeypatch: pytest.MonkeyPatch, hook: str, where: str,
) -> None:
    """Each hook, overridden: called once by the fast path, its result used; and the answer is
    what Strawberry's own handling gives with the same override."""
    seen: list[str] = []
    default = getattr(BuildstateGraphQL, hook)

    async def get_root_value(self, request) -> Any:
        seen.append(hook)
        return "ROOT"

    async def get_sub_response(self, request) -> Response:
        seen.append(hook)
        response = await default(self, request)
        response.headers["X-Hook"] = "sub"
        return response

    async def get_context(self, request, response) -> Context:
        seen.append(hook)
        context = await default(self, request, response)
        context.connection_params = {"hook": True}
        return context

    async def execute_single(self, **kwargs: Any) -> Any:
        seen.append(hook)
        assert kwargs["request_adapter"].method == "POST"
        result = await default(self, **kwargs)
        return ExecutionResult(data={"wrapped": result.data}, errors=None)

    async def process_result(self, request, result) -> Any:
        seen.append(hook)
        return {"processed": result.data}

    override = locals()[hook]
    view = BuildstateGraphQL(Settings())
    if where == "class":
        monkeypatch.setattr(BuildstateGraphQL, hook, override)
    else:
        monkeypatch.setattr(view, hook, override.__get__(view), raising=False)
    monkeypatch.setattr(BuildstateGraphQL, "fast_path", False)
    slow = await _call(view)
    assert seen == [hook]
    monkeypatch.setattr(BuildstateGraphQL, "fast_path", True)
    fast = await _call(view)
    assert seen == [hook, hook]
    assert fast == slow
    body = orjson.loads(fast[2])
    expected = {
        "get_root_value": {"data": {"root": "ROOT"}},
        "get_sub_response": {"data": {"__typename": "Query"}, "extensions": {"e": 1}},
        "get_context": {"data": {"__typename": "Query"}, "extensions": {"e": 1}},
        "execute_single": {"data": {"wrapped": {"__typename": "Query"}}},
        "process_result": {"processed": {"__typename": "Query"}},
    }[hook]
    assert body == expected
    if hook == "get_sub_response":
        assert (b"x-hook", b"sub") in fast[1]
    assert _comparable(recorded[1]) == _comparable(recorded[0])
    if hook == "get_context":
        assert recorded[1]["context_value"].connection_params == {"hook": True}


def test_the_defaults_the_fast_path_inlines_are_strawberrys() -> None:
    """Fails if the view itself overrides one (then the inlined body would not be its own)."""
    from strawberry.http.async_base_view import AsyncBaseHTTPView

    assert BuildstateGraphQL.get_root_value is GraphQL.get_root_value
    assert BuildstateGraphQL.get_sub_response is GraphQL.get_sub_response
    assert BuildstateGraphQL.execute_single is AsyncBaseHTTPView.execute_single
    assert BuildstateGraphQL.process_result is AsyncBaseHTTPView.process_result
