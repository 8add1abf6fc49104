"""registerArtifact without an idempotency key inlines `attempt` (schema/mutations/
register_artifact.py): no closure, no `attempt_once`/`attempt` coroutines. Here the resolver
and the original shape (`attempt_once(..., key=None)` around the same `run`) answer the same
calls, on the database under test: a success, each expected failure of the union (validation,
not found, conflict), and a failure the union does not list (re-raised as it was); and a
success clears the request's artifact loaders in both."""

from __future__ import annotations

import dataclasses
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from app.services import artifacts
from app.services.commands import RegisterArtifact
from schema.mutations import register_artifact as module
from schema.mutations.base import attempt_once, command
from schema.types.artifact import Artifact
from schema.types.errors import Error
from tests import factories
from tests.graphql.support import context_for


async def _original(info: Any, build_id: str, input: Any) -> Any:
    """The resolver as it was for a call without a key."""
    async def run() -> Artifact:
        row = await artifacts.register_artifact(
            actor=info.context.principal, build_id=str(build_id),
            command=command(RegisterArtifact, module._given(input)),
        )
        if (loaders := info.context.loaders_made()) is not None:
            loaders.forget_artifacts(row.build_id)
        return Artifact.from_model(row)

    async def reload(ref: dict) -> Artifact:
        raise AssertionError("no replay without a key")

    return await attempt_once(
        info, module.RegisterArtifactResult, run, key=None, operation="registerArtifact",
        arguments={}, ref=lambda a: {"build_id": str(a.build_id), "id": str(a.id)},
        reload=reload,
    )


def _input(**change: Any) -> Any:
    values = {"state_code": 20, "artifact_name": "a", "artifact_type": "vm_snapshot",
              "artifact_path": "s3://b/k", "storage_backend": "s3", "is_resumable": True,
              "metadata": {"vm_id": "i-1"}, **change}
    return module.RegisterArtifactInput(**values)


async def _answer(resolver: Any, actor: Any, build_id: str, input: Any) -> Any:
    info = SimpleNamespace(context=context_for(actor))
    try:
        result = await resolver(info, build_id, input)
    except Exception as exc:  # noqa: BLE001 — compared below
        return ("raised", type(exc), str(exc), getattr(exc, "code", None))
    if isinstance(result, Error):
        return ("error", type(result), dataclasses.asdict(result))
    assert type(result) is Artifact
    fields = dataclasses.asdict(result)
    for name in ("id", "artifact_name", "artifact_path", "created_at", "updated_at", "build"):
        fields.pop(name)
    return ("artifact", fields)


def _inline(info: Any, build_id: str, input: Any) -> Any:
    return module.register_artifact(info, build_id, input)


async def test_same_answers_as_attempt(database, writer) -> None:
    pid = await factories.project(writer)
    build = await factories.build(writer, pid)
    bid = str(build.id)
    first = await _answer(_original, writer, bid, _input(artifact_name="one",
                                                          artifact_path="p1"))
    second = await _answer(_inline, writer, bid, _input(artifact_name="two",
                                                        artifact_path="p2"))
    assert first[0] == "artifact" and first == second
    cases = [
        (writer, bid, _input(artifact_name="one")),  # conflict with the first
        (writer, bid, _input(artifact_name="two")),  # conflict with the second
        (writer, str(uuid.uuid4()), _input(artifact_name="x")),  # not found
        (writer, "not-a-uuid", _input(artifact_name="x")),
        (writer, bid, _input(artifact_name="")),  # validation
        (writer, bid, _input(state_code=-1)),
        (writer, bid, _input(metadata="not an object")),
        (writer, bid, _input(is_resumable=None)),
        (None, bid, _input(artifact_name="y")),  # unauthenticated: not in the union
    ]
    for actor, build_id, input in cases:
        expected = await _answer(_original, actor, build_id, input)
        got = await _answer(_inline, actor, build_id, input)
        assert expected[0] != "artifact", (build_id, input)
        assert got == expected, (build_id, input)
    assert any(answer[0] == "raised" for answer in [await _answer(_inline, None, bid,
                                                                  _input())])


@pytest.mark.parametrize("resolver", [_original, _inline], ids=["original", "inline"])
async def test_success_clears_the_loaders(database, writer, resolver) -> None:
    pid = await factories.project(writer)
    build = await factories.build(writer, pid)
    context = context_for(writer)
    loaders = context.loaders
    forgotten = []
    original = loaders.forget_artifacts
    loaders.forget_artifacts = lambda build_id: (forgotten.append(build_id),
                                                 original(build_id))[1]
    result = await resolver(SimpleNamespace(context=context), str(build.id), _input())
    assert type(result) is Artifact and forgotten == [build.id]
