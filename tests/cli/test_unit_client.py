"""Retries, idempotency keys and error answers of the HTTP client (against a mock transport)."""

from __future__ import annotations

import httpx
import pytest

from app.cli.client import Client
from app.cli.config import Settings
from app.cli.errors import ServiceError, UnreachableError

KEY = "unit-test-key-777"


def make(handler, retries: int = 2) -> tuple[Client, list[float]]:
    sleeps: list[float] = []
    settings = Settings(api_url="http://127.0.0.1:1", api_key=KEY, output=None, timeout=5, retries=retries, backoff=0.01)
    return Client(settings, transport=httpx.MockTransport(handler), sleep=sleeps.append), sleeps


def test_sends_key_and_decodes_json() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[{"id": 1}])

    client, _ = make(handler)
    assert client.get("/builds", project_id="p", status=None, is_final=False) == [{"id": 1}]
    assert seen[0].headers["X-API-Key"] == KEY
    assert dict(seen[0].url.params) == {"project_id": "p", "is_final": "false"}
    assert "Idempotency-Key" not in seen[0].headers


def test_health_is_sent_without_the_key() -> None:
    seen = []
    client, _ = make(lambda r: seen.append(r) or httpx.Response(200, json={"status": "ok"}))
    client.request("GET", "/health", auth=False)
    assert "X-API-Key" not in seen[0].headers


def test_read_retried_on_503_then_ok() -> None:
    answers = iter([httpx.Response(503), httpx.Response(502), httpx.Response(200, json={"ok": True})])
    client, sleeps = make(lambda r: next(answers))
    assert client.get("/x") == {"ok": True}
    assert len(sleeps) == 2


def test_read_retried_on_read_timeout() -> None:
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={})

    client, _ = make(handler)
    assert client.get("/x") == {}
    assert len(calls) == 2


def test_write_retried_with_the_same_idempotency_key() -> None:
    keys = []

    def handler(request):
        keys.append(request.headers["Idempotency-Key"])
        if len(keys) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(keys) == 2:
            return httpx.Response(504)
        return httpx.Response(201, json={"id": "b"})

    client, _ = make(handler)
    assert client.post("/builds", {"a": 1}) == {"id": "b"}
    assert len(keys) == 3 and len(set(keys)) == 1


def test_each_write_gets_its_own_key() -> None:
    keys = []
    client, _ = make(lambda r: keys.append(r.headers["Idempotency-Key"]) or httpx.Response(201, json={}))
    client.post("/a", {})
    client.post("/a", {})
    assert len(set(keys)) == 2


def test_write_not_retried_once_it_may_have_been_sent() -> None:
    calls = []

    def handler(request):
        calls.append(request)
        raise httpx.ReadTimeout("no answer", request=request)

    client, _ = make(handler)
    with pytest.raises(UnreachableError) as info:
        client.post("/builds", {})
    assert len(calls) == 1
    assert "may or may not have been applied" in info.value.render()
    assert info.value.exit_code == 3


def test_gives_up_after_retries_with_exit_3() -> None:
    calls = []

    def handler(request):
        calls.append(request)
        raise httpx.ConnectError("Connection refused", request=request)

    client, sleeps = make(handler, retries=3)
    with pytest.raises(UnreachableError) as info:
        client.get("/x")
    assert len(calls) == 4 and len(sleeps) == 3
    assert "gave up after 4 attempts" in info.value.render()
    client, _ = make(lambda r: httpx.Response(503, json={"detail": "draining"}), retries=0)
    with pytest.raises(UnreachableError, match="HTTP 503 draining"):
        client.post("/x", {})


def test_error_answers_are_one_line_and_never_show_the_key() -> None:
    client, _ = make(lambda r: httpx.Response(401, json={"detail": f"bad key {KEY}"}))
    with pytest.raises(ServiceError) as info:
        client.get("/x")
    from app.cli.errors import register_secret

    register_secret(KEY)
    assert info.value.render() == "bad key *** (HTTP 401)"
    client, _ = make(lambda r: httpx.Response(422, json={"detail": [{"loc": ["body", "resume_reason"], "msg": "Field required"}]}))
    with pytest.raises(ServiceError, match="resume_reason: Field required"):
        client.post("/x", {})
    client, _ = make(lambda r: httpx.Response(500, text="<html>\nboom\n</html>"))
    with pytest.raises(ServiceError) as info:
        client.get("/x")
    assert info.value.render() == "<html> (HTTP 500)"
    client, _ = make(lambda r: httpx.Response(204))
    assert client.delete("/x") is None


def test_graphql() -> None:
    client, _ = make(lambda r: httpx.Response(200, json={"data": {"build": None}}))
    assert client.graphql("query { build }") == {"build": None}
    client, _ = make(lambda r: httpx.Response(200, json={"data": None, "errors": [{"message": "nope"}]}))
    with pytest.raises(ServiceError, match="nope"):
        client.graphql("query { build }")
