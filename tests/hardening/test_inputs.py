"""Inputs a database cannot store are the caller's error (422), on both dialects alike."""

from __future__ import annotations

import httpx


async def test_nul_characters_and_huge_numbers_are_422_not_5xx(client: httpx.AsyncClient):
    assert (await client.post("/projects", json={"id": "nul-test", "name": "a\x00b"})).status_code == 422
    answer = await client.post("/projects", json={"id": "big-meta", "name": "x"})
    assert answer.status_code in (201, 409)
    build = await client.post("/builds", json={"project_id": "big-meta", "build_number": 7,
                                               "metadata": {"n": 2**70}})
    assert build.status_code == 422 and "64-bit" in build.text
    deep: dict = {}
    node = deep
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    nested = await client.post("/builds", json={"project_id": "big-meta", "build_number": 8,
                                                "metadata": deep})
    assert nested.status_code == 422
    # A NUL in a path parameter: not found (SQLite) or refused (PostgreSQL), never a 5xx.
    looked_up = await client.get("/projects/a%00b")
    assert looked_up.status_code in (404, 422), looked_up.text
    gql = await client.post("/graphql", json={"query": '{ project(id: "a\\u0000b") { id } }'})
    assert gql.status_code == 200
    codes = [e["extensions"]["code"] for e in gql.json().get("errors") or []]
    assert codes in ([], ["VALIDATION"]), gql.text


async def test_exact_json_types(client: httpx.AsyncClient):
    await client.post("/projects", json={"id": "types-test", "name": "x"})
    for body in ({"auto_resume": 0}, {"max_auto_resumes": False}, {"max_auto_resumes": "3"}):
        assert (await client.put("/projects/types-test", json=body)).status_code == 422, body
    assert (await client.put("/projects/types-test", json={"auto_resume": True})).status_code == 200
