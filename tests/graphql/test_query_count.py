"""Nested lists are batched: the statements of a page do not grow with its builds (no N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from tortoise import connections

from app.services import artifacts, jobs, variables
from db import pool
from app.services.commands import LinkJob, RegisterArtifact, SetVariable
from tests import factories
from tests.graphql.support import ok

PAGE = """
query($project: ID!) {
  builds(projectId: $project, first: 20) {
    edges { node {
      artifacts { id }
      variables { key }
      jobs { id }
      resumeContext { canResume }
    } }
  }
}
"""

_METHODS = ("execute_query", "execute_query_dict", "execute_insert", "execute_many", "execute_script")
_DIRECT = ("_fetch_direct",)


@contextmanager
def counting_statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SQL statement the ORM sends while the block runs, inside transactions too (not
    BEGIN/COMMIT: on PostgreSQL the X-SQL-Statements header counts those as well)."""
    seen: list[str] = []
    client_type = type(connections.get("default"))
    for name in _METHODS:
        # Patched where it is defined, so that the transaction wrappers (subclasses of the
        # driver's client, not of ours) count too.
        client = next(k for k in client_type.__mro__ if name in vars(k))
        original = vars(client)[name]

        def wrap(original=original):
            async def counted(self, query, *args, **kwargs):
                seen.append(str(query))
                return await original(self, query, *args, **kwargs)

            return counted

        monkeypatch.setattr(client, name, wrap())
    # The statements sent straight to asyncpg (db.pool.fetch_rows: the bounded client's and
    # its transaction wrapper's execute_query without Tortoise's wrapping); its fallback is
    # execute_query itself, counted above.
    for name in _DIRECT:
        def wrap_direct(original=getattr(pool, name)):
            async def counted(db, query, *args, **kwargs):
                seen.append(str(query))
                return await original(db, query, *args, **kwargs)

            return counted

        monkeypatch.setattr(pool, name, wrap_direct())
    try:
        yield seen
    finally:
        monkeypatch.undo()


async def _project_with_builds(writer, count: int) -> str:
    pid = await factories.project(writer)
    for number in range(1, count + 1):
        b = await factories.build(writer, pid, number)
        await artifacts.register_artifact(
            actor=writer, build_id=str(b.id),
            command=RegisterArtifact(state_code=10, artifact_name="img", artifact_type="ami",
                                     artifact_path="s3://b/img"),
        )
        await variables.set_variable(
            actor=writer, build_id=str(b.id),
            command=SetVariable(variable_key="vm_id", variable_value=f"i-{number}"),
        )
        await jobs.link_job(actor=writer, build_id=str(b.id), command=LinkJob(platform="jenkins"))
    return pid


async def _statements(reader, pid: str, expect: int, monkeypatch) -> list[str]:
    with counting_statements(monkeypatch) as seen:
        data = await ok(PAGE, reader, {"project": pid})
    edges = data["builds"]["edges"]
    assert len(edges) == expect
    assert all(len(e["node"]["artifacts"]) == 1 and len(e["node"]["jobs"]) == 1 for e in edges)
    assert all(e["node"]["variables"] == [{"key": "vm_id"}] for e in edges)
    return seen


async def test_statements_do_not_grow_with_builds(database, writer, reader, monkeypatch) -> None:
    small = await _project_with_builds(writer, 5)
    large = await _project_with_builds(writer, 20)

    five = await _statements(reader, small, 5, monkeypatch)
    twenty = await _statements(reader, large, 20, monkeypatch)

    assert len(five) == len(twenty), "\n".join(["5 builds:", *five, "20 builds:", *twenty])
    # builds page, artifacts, variables, jobs, and the resume context's fixed batch.
    assert 5 <= len(twenty) <= 12, "\n".join(twenty)
