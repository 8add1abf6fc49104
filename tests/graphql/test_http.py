"""The thin HTTP tier: /graphql over the real application and its auth middleware."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.conftest import ADMIN_KEY, READ_KEY

STATIC = Path(__file__).resolve().parents[2] / "app" / "static"
QUERY = "{ projects(first: 1) { id } }"


def anonymous(client: httpx.AsyncClient) -> httpx.AsyncClient:
    client.headers.pop("X-API-Key", None)
    return client


async def test_graphiql_page_is_open_and_uses_no_cdn(client) -> None:
    page = await anonymous(client).get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "GraphiQL" in html
    external = re.findall(r"""(?:src|href)=["'](https?:)?//""", html)
    assert not external, "the page must not load anything from another host"
    assets = re.findall(r"""(?:src|href)="(/static/graphiql/[^"]+)\"""", html)
    assert {a.rsplit("/", 1)[1] for a in assets} == {
        "graphiql.min.js", "graphiql.min.css", "react.production.min.js",
        "react-dom.production.min.js",
    }
    for asset in assets:
        served = await client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 1000
    # The key is typed into GraphiQL's header editor; nothing reads or writes it in the URL.
    assert "isHeadersEditorEnabled: true" in html and "X-API-Key" in html
    assert 'next.delete("headers")' in html
    assert "location.search" in html and "headers=" not in html


async def test_graphql_over_http_needs_a_credential(client) -> None:
    anonymous(client)
    for response in (
        await client.post("/graphql", json={"query": QUERY}),
        await client.get("/graphql", params={"query": QUERY}),
    ):
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad = await client.post("/graphql", json={"query": QUERY}, headers={"X-API-Key": "wrong"})
    assert bad.status_code == 401


async def test_graphql_over_http_with_a_key(client) -> None:
    for key in (READ_KEY, ADMIN_KEY):
        response = await client.post("/graphql", json={"query": QUERY}, headers={"X-API-Key": key})
        assert response.status_code == 200
        assert "errors" not in response.json(), response.json()
    got = await client.get("/graphql", params={"query": QUERY}, headers={"X-API-Key": READ_KEY})
    assert got.status_code == 200 and "errors" not in got.json()


async def test_mutations_are_refused_over_get(client) -> None:
    doc = 'mutation { createProject(input: {id: "via-get", name: "x"}) { __typename } }'
    response = await client.get("/graphql", params={"query": doc})
    assert response.status_code in (400, 405)


async def test_bearer_tokens_work_too(client) -> None:
    token = (await client.post("/auth/token", headers={"X-API-Key": READ_KEY})).json()["access_token"]
    anonymous(client)
    response = await client.post(
        "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and "errors" not in response.json()


def test_vendored_assets_exist() -> None:
    for name in ("graphiql.min.js", "graphiql.min.css", "react.production.min.js",
                 "react-dom.production.min.js", "LICENSES.txt"):
        assert (STATIC / "graphiql" / name).stat().st_size > 1000, name


async def test_a_subscription_by_post_is_a_400_not_a_masked_error(client, caplog) -> None:
    doc = 'subscription { buildEvents(buildId: "00000000-0000-0000-0000-000000000000") { __typename } }'
    answer = await client.post("/graphql", json={"query": doc})
    assert answer.status_code == 400, answer.text
    assert "subscriptions are not allowed when using POST" in answer.text
    assert not [r for r in caplog.records if r.levelname == "ERROR"], "nothing unexpected happened"


async def test_several_operations_need_an_operation_name(client) -> None:
    doc = "query A { __typename } query B { projects(first: 1) { id } }"
    answer = (await client.post("/graphql", json={"query": doc})).json()
    assert answer["data"] is None
    assert answer["errors"][0]["message"] == (
        "Must provide operation name if query contains multiple operations.")
    named = (await client.post("/graphql", json={"query": doc, "operationName": "A"})).json()
    assert named["data"] == {"__typename": "Query"} and "errors" not in named


async def test_other_methods_on_graphql_are_405_as_on_rest(client) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        answer = await client.request(method, "/graphql", json={"query": QUERY})
        assert answer.status_code == 405, (method, answer.text)
        assert answer.json() == {"detail": "Method Not Allowed"}
        assert {"GET", "POST"} <= set(answer.headers["allow"].split(", "))
    rest = await client.request("PUT", "/projects")
    assert rest.status_code == 405 and rest.json() == {"detail": "Method Not Allowed"}
    assert rest.headers["allow"] == "GET, POST"
