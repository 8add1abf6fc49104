"""app.gate.DirectRoute hands the GraphQL route its requests without Starlette's
ExceptionMiddleware and Router: the application built with it and without it
(`create_app(direct_graphql=False)`) must answer alike — status, body bytes, headers — and the
GraphQL app must see the same scope (route, endpoint, path parameters, router, exception
handlers), for every method and path shape, valid and invalid bodies."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.routing import Match

from app import gate
from app.main import create_app
from app.settings import Settings
from schema.app import BuildstateGraphQL
from tests.conftest import WRITE_KEY

KEY = {"X-API-Key": WRITE_KEY}


@pytest.fixture
async def pair(database: Settings, monkeypatch) -> AsyncIterator[list]:
    """[(app, client, scopes seen by the GraphQL app)] with and without the direct route."""
    seen: dict[int, list[dict]] = {}
    original = BuildstateGraphQL.__call__

    async def recording(self, scope, receive, send):
        seen.setdefault(id(scope.get("app")), []).append(dict(scope))
        await original(self, scope, receive, send)

    monkeypatch.setattr(BuildstateGraphQL, "__call__", recording)
    settings = database.model_copy(update={"rate_limit_per_second": 0.001})
    direct = create_app(settings, manage_db=False)
    routed = create_app(settings, manage_db=False, direct_graphql=False)
    async with LifespanManager(direct), LifespanManager(routed):
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=a),
                                     base_url="http://testserver") for a in (direct, routed)]
        async with clients[0], clients[1]:
            yield [(direct, clients[0], seen.setdefault(id(direct), [])),
                   (routed, clients[1], seen.setdefault(id(routed), []))]


def _essential(app, scope: dict) -> dict:
    """What the router and ExceptionMiddleware put in the scope, comparable across apps."""
    handlers, status_handlers = scope["starlette.exception_handlers"]
    return {
        "keys": sorted(scope),
        "route": (scope["route"].path, sorted(scope["route"].methods)),
        "endpoint": type(scope["endpoint"]).__name__,
        "path_params": scope["path_params"],
        "router": scope["router"] is app.router,
        "handlers": sorted(getattr(h, "__name__", repr(h)) for h in handlers.values()),
        "handler_classes": sorted(c.__name__ for c in handlers),
        "status_handlers": status_handlers,
    }


async def _same(pair, method: str, url: str, **kw) -> httpx.Response:
    answers, scopes = [], []
    for app, http, seen in pair:
        before = len(seen)
        headers = {"X-Request-ID": "direct-test", **kw.get("headers", {})}
        answers.append(await http.request(method, url, **{**kw, "headers": headers}))
        scopes.append([_essential(app, s) for s in seen[before:]])
    direct, routed = answers
    assert (direct.status_code, direct.content) == (routed.status_code, routed.content)
    assert direct.headers.multi_items() == routed.headers.multi_items()
    assert scopes[0] == scopes[1]
    return direct


def test_the_direct_route_is_the_one_the_router_finds(database: Settings) -> None:
    app = create_app(database, manage_db=False)
    middleware = app.build_middleware_stack()
    layer = middleware
    while not isinstance(layer, gate.GateMiddleware):
        layer = layer.app
    direct = layer.direct
    assert direct is not None and direct.router is app.router
    for method in ("GET", "POST", "HEAD"):
        scope = {"type": "http", "path": "/graphql", "method": method, "root_path": ""}
        assert direct.takes(scope)
        first = next(r for r in app.router.routes if r.matches(scope)[0] is not Match.NONE)
        assert first is direct.route and first.matches(scope)[0] is Match.FULL
    for path, method, root in (("/graphql", "PUT", ""), ("/graphql/", "POST", ""),
                               ("/graphq", "POST", ""), ("/api/graphql", "POST", "/api")):
        assert not direct.takes({"type": "http", "path": path, "method": method,
                                 "root_path": root})
    assert create_app(database, manage_db=False, direct_graphql=False) is not None


async def test_graphql_requests_answer_alike(pair, writer) -> None:
    from tests import factories as f

    project = await f.project(writer)
    build = await f.build(writer, project)
    query = {"query": "query($id: ID!) { build(id: $id) { id status } }",
             "variables": {"id": str(build.id)}}
    ok = await _same(pair, "POST", "/graphql", headers=KEY, json=query)
    assert ok.status_code == 200 and ok.json()["data"]["build"]["id"] == str(build.id)
    await _same(pair, "POST", "/graphql", json=query)  # anonymous: the field's error
    await _same(pair, "POST", "/graphql", headers={**KEY, "Idempotency-Key": "k-1"}, json=query)
    await _same(pair, "POST", "/graphql", headers=KEY, json={"query": "{ nope }"})
    await _same(pair, "POST", "/graphql", headers=KEY, json={"query": "mutation {"})
    await _same(pair, "POST", "/graphql", headers=KEY, json=[query])
    await _same(pair, "POST", "/graphql", headers=KEY, content=b"{not json")
    await _same(pair, "POST", "/graphql", headers={**KEY, "content-type": "text/plain"},
                content=b"{}")
    # A broken multipart body: Starlette's form parser raises its HTTPException (400), which
    # the exception handlers answer.
    await _same(pair, "POST", "/graphql",
                headers={**KEY, "content-type": "multipart/form-data; boundary=x"},
                content=b"--x\r\nbroken")
    await _same(pair, "POST", "/graphql",
                headers={**KEY, "content-type": "multipart/form-data"}, content=b"")
    await _same(pair, "GET", "/graphql", headers={**KEY, "accept": "text/html"})
    await _same(pair, "GET", "/graphql?query={__typename}", headers=KEY)
    await _same(pair, "GET", "/graphql?query=mutation{__typename}", headers=KEY)
    await _same(pair, "HEAD", "/graphql", headers=KEY)
    # Not taken by the direct route: the router's answers, alike.
    for method, url in (("PUT", "/graphql"), ("DELETE", "/graphql"), ("POST", "/graphql/"),
                        ("GET", "/graphql/"), ("POST", "/graphqlx"),
                        ("GET", f"/builds/{uuid.uuid4()}/resume-context")):
        await _same(pair, method, url, headers=KEY, json=query)


async def test_a_bad_credential_and_metrics_alike(pair) -> None:
    from app import metrics

    def count() -> float:
        return metrics.REGISTRY.get_sample_value(
            "buildstate_http_requests_total",
            {"method": "POST", "route": "/graphql", "status": "200"}) or 0.0

    r = await _same(pair, "POST", "/graphql", headers={"X-API-Key": "bs_nope-nope-nope"},
                    json={"query": "{ __typename }"})
    assert r.status_code == 401
    for app, http, _ in pair:  # each counted under the route's template
        before = count()
        assert (await http.post("/graphql", headers=KEY,
                                json={"query": "{ __typename }"})).status_code == 200
        assert count() == before + 1
