"""The hot routes served without FastAPI (app/rest/fast.py) answer exactly as the FastAPI routes
do: the same request to the application with and without the fast routes gets the same status,
the same body bytes and the same headers."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY

from app.main import create_app
from app.rest.fast import FastRoute
from app.settings import Settings
from tests import factories as f
from tests.conftest import ADMIN_KEY, WRITE_KEY, unique

ARTIFACT = {"state_code": 20, "artifact_name": "fast", "artifact_type": "vm_snapshot",
            "artifact_path": "s3://b/fast", "metadata": {"k": [1, 2.5, None, "ü"]}}
# What changes from one registration to the next.
VARYING = ("id", "created_at", "updated_at", "artifact_name")


@pytest.fixture
async def both(database: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """(fast, fastapi): the application with and without the fast routes."""
    fast_app = create_app(database, manage_db=False)
    slow_app = create_app(database, manage_db=False, fast_routes=False)
    assert any(isinstance(r, FastRoute) for r in fast_app.router.routes)
    assert not any(isinstance(r, FastRoute) for r in slow_app.router.routes)
    async with LifespanManager(fast_app), LifespanManager(slow_app):
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://testserver",
                              headers={"X-API-Key": WRITE_KEY})
            for a in (fast_app, slow_app)
        ]
        async with clients[0], clients[1]:
            yield clients[0], clients[1]


@pytest.fixture
def delegated(monkeypatch) -> list[str]:
    """The paths the fast routes handed to FastAPI."""
    paths: list[str] = []
    delegate = FastRoute.delegate

    async def counting(self, scope, receive, send):
        paths.append(scope["path"])
        await delegate(self, scope, receive, send)

    monkeypatch.setattr(FastRoute, "delegate", counting)
    return paths


def _token(settings: Settings, scopes: list[str]) -> dict[str, str]:
    now = int(time.time())
    token = jwt.encode({"sub": "fast-test", "scopes": scopes, "iat": now, "exp": now + 600,
                        "iss": settings.jwt_issuer}, settings.secret_key, algorithm="HS256")
    return {"Authorization": f"Bearer {token}", "X-API-Key": ""}


async def _same(both, method: str, url: str, **kw) -> httpx.Response:
    """The request to both applications (one request id, so that the echo matches too)."""
    answers = []
    for http in both:
        headers = {"X-Request-ID": "fast-route-test", **kw.pop("headers", {})}
        kw["headers"] = headers
        answers.append(await http.request(method, url, **kw))
    fast, slow = answers
    assert (fast.status_code, fast.content) == (slow.status_code, slow.content)
    assert fast.headers.multi_items() == slow.headers.multi_items()
    return fast


async def _build(writer) -> str:
    pid = await f.project(writer)
    return str((await f.build(writer, pid)).id)


async def test_read_answers_alike(both, writer, delegated) -> None:
    build_id = await _build(writer)
    for body in ({**ARTIFACT, "artifact_name": "a"}, {**ARTIFACT, "artifact_name": "b"}):
        assert (await both[1].post(f"/builds/{build_id}/artifacts", json=body)).status_code == 201
    r = await _same(both, "GET", f"/builds/{build_id}/resume-context")
    assert r.status_code == 200 and len(r.json()["artifacts"]) == 2
    assert delegated == []


@pytest.mark.parametrize("suffix", [
    "?reveal=true", "?reveal=false", "?reveal=maybe", "?reveal=", "?other=1", "?reveal=1&reveal=0",
])
async def test_read_query_strings_alike(both, writer, suffix) -> None:
    build_id = await _build(writer)
    await _same(both, "GET", f"/builds/{build_id}/resume-context{suffix}")
    await _same(both, "GET", f"/builds/{build_id}/resume-context{suffix}",
                headers={"X-API-Key": ADMIN_KEY})


@pytest.mark.parametrize("build", ["unknown", "not-a-uuid", "%27%3B--", "00000000-0000-0000-0000-000000000000"])
async def test_read_errors_alike(both, build) -> None:
    build_id = str(uuid.uuid4()) if build == "unknown" else build
    r = await _same(both, "GET", f"/builds/{build_id}/resume-context")
    assert r.status_code in (404, 422)


async def test_read_credentials_alike(both, database, writer) -> None:
    build_id = await _build(writer)
    url = f"/builds/{build_id}/resume-context"
    assert (await _same(both, "GET", url, headers={"X-API-Key": ""})).status_code == 401
    assert (await _same(both, "GET", url, headers={"X-API-Key": "bs_nope-nope-nope-nope"})
            ).status_code == 401
    assert (await _same(both, "GET", url, headers=_token(database, []))).status_code == 403
    assert (await _same(both, "GET", url, headers=_token(database, ["read"]))).status_code == 200


@pytest.mark.parametrize("method", ["HEAD", "PUT", "DELETE", "OPTIONS"])
async def test_other_methods_alike(both, writer, method) -> None:
    build_id = await _build(writer)
    await _same(both, method, f"/builds/{build_id}/resume-context")
    await _same(both, method, f"/builds/{build_id}/artifacts")


async def test_neighbouring_paths_alike(both, writer) -> None:
    build_id = await _build(writer)
    for path in (f"/builds/{build_id}/resume-context/", f"/builds/{build_id}/artifacts/",
                 f"/builds/{build_id}/artifacts", "/builds//resume-context",
                 f"/builds/{build_id}/x/resume-context"):
        await _same(both, "GET", path)


def _without_varying(r: httpx.Response) -> dict:
    return {k: v for k, v in r.json().items() if k not in VARYING}


async def test_write_answers_alike(both, writer, delegated) -> None:
    build_id = await _build(writer)
    fast, slow = [await http.post(f"/builds/{build_id}/artifacts",
                                  json={**ARTIFACT, "artifact_name": unique("w")})
                  for http in both]
    assert fast.status_code == slow.status_code == 201
    assert _without_varying(fast) == _without_varying(slow)
    assert list(fast.json()) == list(slow.json())
    assert [k for k, _ in fast.headers.multi_items()] == [k for k, _ in slow.headers.multi_items()]
    assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
    assert delegated == []


async def test_write_conflict_alike(both, writer) -> None:
    """The second registration of one name: the service's 409, the same from both."""
    build_id = await _build(writer)
    body = {**ARTIFACT, "artifact_name": unique("dup")}
    assert (await both[0].post(f"/builds/{build_id}/artifacts", json=body)).status_code == 201
    await _same(both, "POST", f"/builds/{build_id}/artifacts", json=body)


BAD_BODIES = [
    ("not json", b"{nope", "application/json"),
    ("not utf-8", b'{"artifact_name": "\xff"}', "application/json"),
    ("empty", b"", "application/json"),
    ("a list", b"[]", "application/json"),
    ("missing fields", b'{"state_code": 20}', "application/json"),
    ("wrong types", b'{"state_code": "x", "artifact_name": 1, "artifact_type": "vm_snapshot", '
                    b'"artifact_path": "p"}', "application/json"),
    ("no content type", b'{"state_code": 20, "artifact_name": "n", "artifact_type": "ami", '
                        b'"artifact_path": "p"}', None),
    ("text/plain", b'{"state_code": 20}', "text/plain"),
    ("json with charset", b'{"state_code": 20}', "application/json; charset=utf-8"),
    ("problem+json", b'{"state_code": 20}', "application/problem+json"),
    ("too deep", b"[" * 100_000 + b"]" * 100_000, "application/json"),
]


@pytest.mark.parametrize("body,content_type", [b[1:] for b in BAD_BODIES],
                         ids=[b[0] for b in BAD_BODIES])
async def test_write_bad_bodies_alike(both, writer, body, content_type, delegated) -> None:
    build_id = await _build(writer)
    headers = {"Content-Type": content_type} if content_type else {}
    r = await _same(both, "POST", f"/builds/{build_id}/artifacts", content=body, headers=headers)
    assert 400 <= r.status_code < 500
    assert len(delegated) == 1  # the fast route left the answer to FastAPI


@pytest.mark.parametrize("build", ["unknown", "not-a-uuid"])
async def test_write_unknown_build_alike(both, build) -> None:
    build_id = str(uuid.uuid4()) if build == "unknown" else build
    r = await _same(both, "POST", f"/builds/{build_id}/artifacts", json=ARTIFACT)
    assert r.status_code in (404, 422)


async def test_write_credentials_alike(both, database, writer) -> None:
    build_id = await _build(writer)
    url = f"/builds/{build_id}/artifacts"
    for headers, status in (({"X-API-Key": ""}, 401), (_token(database, ["read"]), 403),
                            (_token(database, []), 403)):
        r = await _same(both, "POST", url, json=ARTIFACT, headers=headers)
        assert r.status_code == status
        # A bad body and no credential: FastAPI reads (and judges) the body before the credential.
        await _same(both, "POST", url, content=b"{nope", headers={
            **headers, "Content-Type": "application/json"})
        await _same(both, "POST", url, json={"state_code": "x"}, headers=headers)


async def test_write_too_large_alike(both, database, writer) -> None:
    build_id = await _build(writer)
    url = f"/builds/{build_id}/artifacts"
    big = {**ARTIFACT, "metadata": {"x": "y" * database.max_body_bytes}}
    assert (await _same(both, "POST", url, json=big)).status_code == 413

    async def chunks():
        yield b'{"metadata": {"x": "'
        for _ in range(database.max_body_bytes // 65536 + 2):
            yield b"y" * 65536
        yield b'"}}'

    # Streamed (no Content-Length): the bound trips while the route reads the body.
    answers = []
    for http in both:
        answers.append(await http.post(url, content=chunks(), headers={
            "Content-Type": "application/json", "X-Request-ID": "fast-route-test"}))
    assert (answers[0].status_code, answers[0].content) == (answers[1].status_code,
                                                            answers[1].content)
    assert answers[0].headers.multi_items() == answers[1].headers.multi_items()
    assert answers[0].status_code == 400  # FastAPI's "error parsing the body" (see fast.py)
    # ...and with an Idempotency-Key the middleware reads it first (413 from the bound).
    for http in both:
        r = await http.post(url, content=chunks(), headers={
            "Content-Type": "application/json", "Idempotency-Key": unique("big")})
        assert r.status_code == 413


async def test_write_idempotency_alike(both, writer) -> None:
    build_id = await _build(writer)
    url = f"/builds/{build_id}/artifacts"
    firsts, replays = [], []
    for http in both:
        key, body = unique("idem"), {**ARTIFACT, "artifact_name": unique("idem")}
        first = await http.post(url, json=body, headers={"Idempotency-Key": key})
        replay = await http.post(url, json=body, headers={"Idempotency-Key": key})
        other = await http.post(url, json={**body, "state_code": 21},
                                headers={"Idempotency-Key": key})
        assert first.status_code == replay.status_code == 201
        assert replay.content == first.content and replay.headers["idempotent-replayed"] == "true"
        assert other.status_code == 422
        firsts.append(first)
        replays.append(replay)
        # A key on a bad body: FastAPI's 422, kept and replayed too.
        bad_key = unique("bad")
        bad = [await http.post(url, json={"state_code": "x"}, headers={"Idempotency-Key": bad_key})
               for _ in range(2)]
        assert bad[0].status_code == bad[1].status_code == 422
        assert bad[0].content == bad[1].content
    assert _without_varying(firsts[0]) == _without_varying(firsts[1])
    assert replays[0].headers.multi_items() != [] and [
        k for k, _ in replays[0].headers.multi_items()] == [
        k for k, _ in replays[1].headers.multi_items()]


async def test_unexpected_error_alike(both, writer, monkeypatch) -> None:
    """An exception no handler maps: the REST app's 500 answer, and the exception raised on."""
    from app.services import artifacts, context

    async def boom(**kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(context, "get_resume_context", boom)
    monkeypatch.setattr(artifacts, "register_artifact", boom)
    build_id = await _build(writer)
    for method, url, kw in (("GET", f"/builds/{build_id}/resume-context", {}),
                            ("POST", f"/builds/{build_id}/artifacts", {"json": ARTIFACT})):
        for http in both:
            with pytest.raises(RuntimeError, match="boom"):
                await http.request(method, url, **kw)
        answers = []
        for http in both:
            quiet = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=http._transport.app, raise_app_exceptions=False),
                base_url="http://testserver",
                headers={"X-API-Key": WRITE_KEY, "X-Request-ID": "fast-route-test"})
            async with quiet:
                answers.append(await quiet.request(method, url, **kw))
        assert answers[0].status_code == answers[1].status_code == 500
        assert answers[0].content == answers[1].content
        assert answers[0].headers.multi_items() == answers[1].headers.multi_items()


async def test_metrics_label_the_template(both, writer) -> None:
    build_id = await _build(writer)
    labels = {"method": "GET", "route": "/builds/{build_id}/resume-context", "status": "200"}
    before = REGISTRY.get_sample_value("buildstate_http_requests_total", labels) or 0
    for http in both:
        assert (await http.get(f"/builds/{build_id}/resume-context")).status_code == 200
    assert REGISTRY.get_sample_value("buildstate_http_requests_total", labels) == before + 2
