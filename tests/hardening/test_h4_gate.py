"""app/gate.py folds Starlette's AuthenticationMiddleware (with ApiAuthBackend), the rate limit
and idempotency into one layer: the application built with the folded gate and with the three
separate middlewares (`create_app(folded_gate=False)`) must answer alike — status, body bytes,
headers — for good and bad credentials, over and under the limits, with and without keys."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.datastructures import Headers
from starlette.middleware.authentication import AuthenticationMiddleware

from app.auth import credentials_in, credentials_of
from app.gate import GateMiddleware
from app.main import create_app
from app.services.errors import Unauthenticated
from app.settings import Settings
from tests.conftest import ADMIN_KEY, WRITE_KEY, unique

GOOD = (b"x-api-key", WRITE_KEY.encode())


@pytest.mark.parametrize("raw", [
    [],
    [GOOD],
    [(b"x-api-key", b"")],
    [(b"x-api-key", b""), GOOD],
    [GOOD, (b"x-api-key", b"other")],
    [(b"x-api-key", "clé".encode("latin-1"))],
    [(b"authorization", b"Bearer abc.def")],
    [(b"authorization", b"bearer   abc  ")],
    [(b"authorization", b"BEARER abc")],
    [(b"authorization", b"Bearer")],
    [(b"authorization", b"Bearer    ")],
    [(b"authorization", b"Basic dXNlcjpwdw==")],
    [(b"authorization", b"")],
    [(b"authorization", b""), (b"authorization", b"Bearer late")],
    [(b"authorization", b"Bearer first"), (b"authorization", b"Basic x")],
    [GOOD, (b"authorization", b"Basic x")],
    [(b"authorization", b"Bearer\tabc")],
    [(b"authorization", "Bearer é".encode("latin-1"))],
    [(b"X-API-Key", b"upper-case name (not ASGI)")],
    [(b"host", b"x"), (b"content-type", b"application/json"), GOOD],
])
def test_credentials_in_reads_the_headers_as_credentials_of(raw) -> None:
    def outcome(read, headers):
        try:
            return read(headers)
        except Unauthenticated as exc:
            return ("Unauthenticated", exc.message)

    assert outcome(credentials_in, raw) == outcome(credentials_of, Headers(raw=list(raw)))


@pytest.fixture
def tight(database: Settings) -> Settings:
    # A waiting time of ~1000 s: its ceiling (Retry-After, the message) is the same for both
    # applications although they run a moment apart.
    return database.model_copy(update={
        "rate_limit_burst": 30, "rate_limit_per_second": 0.01,
        "rate_limit_anonymous_burst": 20, "rate_limit_anonymous_per_second": 0.01,
        "rate_limit_request_cost": 10,
    })


def _apps(settings: Settings):
    folded = create_app(settings, manage_db=False)
    separate = create_app(settings, manage_db=False, folded_gate=False)
    classes = {m.cls for m in folded.user_middleware}
    assert GateMiddleware in classes and AuthenticationMiddleware not in classes
    classes = {m.cls for m in separate.user_middleware}
    assert GateMiddleware not in classes and AuthenticationMiddleware in classes
    return folded, separate


@pytest.fixture
async def both(tight: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """(folded, separate), each with its own limiter, both on the test database."""
    folded, separate = _apps(tight)
    async with LifespanManager(folded), LifespanManager(separate):
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=a, client=("10.9.9.9", 4000)),
                              base_url="http://testserver")
            for a in (folded, separate)
        ]
        async with clients[0], clients[1]:
            yield clients[0], clients[1]


async def _same(both, method: str, url: str, **kw) -> httpx.Response:
    answers = []
    for http in both:
        headers = {"X-Request-ID": "gate-test", **kw.get("headers", {})}
        answers.append(await http.request(method, url, **{**kw, "headers": headers}))
    folded, separate = answers
    assert (folded.status_code, folded.content) == (separate.status_code, separate.content)
    assert folded.headers.multi_items() == separate.headers.multi_items()
    return folded


async def test_bad_credentials_answer_alike_then_the_address_is_limited(both) -> None:
    url = f"/builds/{uuid.uuid4()}/resume-context"
    statuses = [
        (await _same(both, "GET", url, headers=headers)).status_code
        for headers in (
            {},                                           # anonymous: the route's 401
            {"X-API-Key": "bs_nope-nope-nope"},            # unknown key: the gate's 401
            {"Authorization": "Basic dXNlcjpwdw=="},       # wrong scheme
            {"Authorization": "Bearer not.a.jwt"},         # bad token
        )
    ]
    # The anonymous budget (20, 10 a request) is spent by the first two; then 429 for all.
    assert statuses == [401, 401, 429, 429]
    r = await _same(both, "POST", "/graphql", json={"query": "{ __typename }"})
    assert r.status_code == 429 and r.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_a_credential_is_limited_alike_on_rest_and_graphql(both) -> None:
    key = {"X-API-Key": ADMIN_KEY}
    assert (await _same(both, "GET", "/projects?limit=1", headers=key)).status_code == 200
    assert (await _same(both, "POST", "/graphql", headers=key,
                        json={"query": "{ __typename }"})).status_code == 200
    # Each answer alike, until the bucket (30) runs dry: the 429s alike too.
    statuses = [(await _same(both, "GET", "/projects?limit=1", headers=key)).status_code
                for _ in range(3)]
    assert statuses[-1] == 429
    r = await _same(both, "POST", "/graphql", headers=key, json={"query": "{ __typename }"})
    assert r.status_code == 429
    # Health and readiness are never limited; other methods and paths pass the gate alike.
    for method, url in (("GET", "/health"), ("GET", "/ready"), ("DELETE", "/graphql"),
                        ("GET", "/no/such/path")):
        await _same(both, method, url, headers=key)


async def test_authenticated_reads_and_writes_answer_alike(database: Settings, writer) -> None:
    from tests import factories as f

    project = await f.project(writer)
    build = await f.build(writer, project)
    # GraphQL reports the bucket's remainder: no refill worth a unit while the test runs.
    folded, separate = _apps(database.model_copy(update={"rate_limit_per_second": 0.001}))
    async with LifespanManager(folded), LifespanManager(separate):
        pair = [httpx.AsyncClient(transport=httpx.ASGITransport(app=a),
                                  base_url="http://testserver") for a in (folded, separate)]
        async with pair[0], pair[1]:
            key = {"X-API-Key": WRITE_KEY}
            await _same(pair, "GET", f"/builds/{build.id}/resume-context", headers=key)
            await _same(pair, "GET", f"/builds/{build.id}/resume-context",
                        headers={"X-API-Key": ADMIN_KEY})
            await _same(pair, "POST", "/graphql", headers=key, json={
                "query": "query($id: ID!) { build(id: $id) { id } }",
                "variables": {"id": str(build.id)}})
            # An invalid write (no key: a kept answer would be replayed by the other stack).
            assert (await _same(pair, "POST", "/projects", headers=key, json={"id": 5})
                    ).status_code == 422


async def test_idempotency_keys_are_honoured_by_both(database: Settings) -> None:
    folded, separate = _apps(database)
    async with LifespanManager(folded), LifespanManager(separate):
        pair = [httpx.AsyncClient(transport=httpx.ASGITransport(app=a),
                                  base_url="http://testserver",
                                  headers={"X-API-Key": WRITE_KEY}) for a in (folded, separate)]
        async with pair[0], pair[1]:
            for first, second in (pair, pair[::-1]):
                key, pid = unique("gate-k"), unique("gate")
                headers = {"Idempotency-Key": key}
                created = await first.post("/projects", headers=headers,
                                            json={"id": pid, "name": "gate"})
                assert created.status_code == 201
                assert "idempotent-replayed" not in created.headers
                # The other stack replays the first answer: same key, same actor, same body.
                replay = await second.post("/projects", headers=headers,
                                           json={"id": pid, "name": "gate"})
                assert (replay.status_code, replay.content) == (201, created.content)
                assert replay.headers["idempotent-replayed"] == "true"
            # The key reused for another body: the same 422 from both.
            await _same(pair, "POST", "/projects", headers={"Idempotency-Key": key},
                        json={"id": unique("gate"), "name": "other"})
