"""The edge layer (app/middleware.py's EdgeMiddleware: request id, log context, metrics, the body
bound, database outages as one layer) behaves as the five middlewares it replaced did."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY
from tortoise.exceptions import DBConnectionError

from app.logging import _scope
from app.middleware import EdgeMiddleware


def _scope_of(path: str = "/edge-test", method: str = "POST", headers=(), kind: str = "http"):
    return {"type": kind, "method": method, "path": path, "headers": list(headers),
            "query_string": b"", "client": ("127.0.0.1", 1)}


async def _call(inner, scope, chunks=(b"",)):
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
               for i, c in enumerate(chunks)]
    sent = []

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await EdgeMiddleware(inner, max_bytes=10)(scope, receive, send)
    return sent


async def _ok(scope, receive, send):
    while (await receive()).get("more_body"):
        pass
    assert _scope.get() is scope  # log records see the request
    await send({"type": "http.response.start", "status": 200, "headers": [(b"a", b"b")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _count(status: str, method: str = "POST") -> float:
    return REGISTRY.get_sample_value("buildstate_http_requests_total", {
        "method": method, "route": "<unmatched>", "status": status}) or 0


async def test_request_id_given_or_made() -> None:
    scope = _scope_of(headers=[(b"x-request-id", b"abc-1.2_3")])
    sent = await _call(_ok, scope)
    assert sent[0]["headers"] == [(b"a", b"b"), (b"x-request-id", b"abc-1.2_3")]
    assert scope["state"]["request_id"] == "abc-1.2_3"
    scope = _scope_of(headers=[(b"x-request-id", b"no spaces/allowed")])
    sent = await _call(_ok, scope)
    made = scope["state"]["request_id"]
    assert len(made) == 32 and sent[0]["headers"][-1] == (b"x-request-id", made.encode())
    assert _scope.get() is None


async def test_bodies_over_the_bound_are_413() -> None:
    called = []

    async def inner(scope, receive, send):
        called.append(1)
        await _ok(scope, receive, send)

    for length in (b"11", b"x1"):
        before = _count("413")
        sent = await _call(inner, _scope_of(headers=[(b"content-length", length)]))
        assert sent[0]["status"] == 413 and not called
        assert sent[0]["headers"][-1][0] == b"x-request-id"
        assert b"larger than 10 bytes" in sent[1]["body"]
        assert _count("413") == before + 1
    sent = await _call(inner, _scope_of(), chunks=(b"123456", b"789012"))  # streamed
    assert [m.get("status") for m in sent][:1] == [413] and len(sent) == 2
    sent = await _call(inner, _scope_of(), chunks=(b"12345", b"67890"))  # exactly the bound
    assert sent[0]["status"] == 200


async def test_bound_tripping_after_the_answer_started_is_quiet() -> None:
    async def inner(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while (await receive()).get("more_body"):
            pass

    sent = await _call(inner, _scope_of(), chunks=(b"123456", b"789012"))
    assert [m["type"] for m in sent] == ["http.response.start"]


async def test_database_outage_before_the_answer_is_503(caplog) -> None:
    async def inner(scope, receive, send):
        raise DBConnectionError("gone")

    before = _count("503")
    with caplog.at_level(logging.ERROR, logger="buildstate.unavailable"):
        sent = await _call(inner, _scope_of(headers=[(b"x-request-id", b"r-503")]))
    assert sent[0]["status"] == 503
    assert sent[0]["headers"] == [(b"content-type", b"application/json"),
                                  (b"content-length", str(len(sent[1]["body"])).encode()),
                                  (b"retry-after", b"2"), (b"x-request-id", b"r-503")]
    assert _count("503") == before + 1
    assert any("request_id=r-503" in r.getMessage() for r in caplog.records)


async def test_failures_after_the_answer_started_and_bugs_propagate(caplog) -> None:
    async def late(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise DBConnectionError("gone")

    async def bug(scope, receive, send):
        raise RuntimeError("bug")

    for inner, error in ((late, DBConnectionError), (bug, RuntimeError)):
        before = _count("500")
        with caplog.at_level(logging.INFO, logger="buildstate.access"), pytest.raises(error):
            await _call(inner, _scope_of())
        assert _count("500") == before + 1
        line = [r for r in caplog.records if r.name == "buildstate.access"][-1]
        assert line.status == (200 if inner is late else 500) and line.path == "/edge-test"
        assert _scope.get() is None


async def test_websocket_and_lifespan() -> None:
    seen: dict = {}
    sent: list = []

    async def inner(scope, receive, send):
        seen["state"] = dict(scope.get("state", {}))
        seen["log"] = _scope.get() is scope
        await send({"type": "websocket.accept", "headers": [(b"a", b"b")]})

    async def send(message):
        sent.append(message)

    scope = _scope_of(kind="websocket", headers=[(b"x-request-id", b"ws-1")])
    await EdgeMiddleware(inner, max_bytes=10)(scope, None, send)
    assert seen == {"state": {"request_id": "ws-1"}, "log": True}
    assert sent == [{"type": "websocket.accept", "headers": [(b"a", b"b")]}]
    seen.clear()
    await EdgeMiddleware(inner, max_bytes=10)({"type": "lifespan"}, None, send)
    assert seen == {"state": {}, "log": False}
