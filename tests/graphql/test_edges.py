"""Odd inputs that must end as typed errors or GraphQL errors, never as masked bugs."""

from __future__ import annotations

import base64
import uuid

from tests import factories
from tests.graphql.support import execute, ok

BUILDS = """query($after: String) { builds(first: 2, after: $after) { edges { node { id } } } }"""


async def test_well_formed_cursors_without_timezone_or_from_the_future(database, writer, reader) -> None:
    pid = await factories.project(writer)
    await factories.build(writer, pid)
    for raw in (f"2020-01-01T00:00:00|{uuid.uuid4()}", f"2999-01-01T00:00:00+00:00|{uuid.uuid4()}"):
        cursor = base64.urlsafe_b64encode(raw.encode()).decode()
        result = await execute(BUILDS, reader, {"after": cursor})
        if result.errors:
            assert result.errors[0].extensions["code"] == "VALIDATION", result.errors
        else:
            assert isinstance(result.data["builds"]["edges"], list)


async def test_out_of_range_numbers_are_graphql_errors(database, writer) -> None:
    pid = await factories.project(writer)
    doc = """mutation($input: CreateBuildInput!) { createBuild(input: $input) { __typename } }"""
    result = await execute(doc, writer, {"input": {"projectId": pid, "buildNumber": 2**31}})
    assert result.errors and "Unexpected" not in result.errors[0].message
    assert "buildNumber" in result.errors[0].message


async def test_deep_nesting_is_served_from_the_loaders(database, writer, reader) -> None:
    _, failed = await factories.seed_failed_build(writer)
    doc = """query($id: ID!) { build(id: $id) { artifacts { build { artifacts { build {
      project { id } resumeContext { artifacts { build { id } } } } } } } } }"""
    data = await ok(doc, reader, {"id": str(failed.id)})
    inner = data["build"]["artifacts"][0]["build"]["artifacts"][0]["build"]
    assert inner["project"]["id"] == failed.project_id
    assert inner["resumeContext"]["artifacts"][0]["build"]["id"] == str(failed.id)
