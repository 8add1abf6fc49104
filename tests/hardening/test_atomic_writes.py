"""A create that fails half-way leaves nothing behind: every multi-row write is one transaction.

The failure is injected at the last step of each service's write (its audit event), after the
business rows were inserted; the REST answer is a 500 and no row of any kind remains, with or
without an Idempotency-Key (whose key is freed, so that a retry runs the request again).
"""

from __future__ import annotations

import importlib

import httpx
import pytest
from asgi_lifespan import LifespanManager

from db.models import (
    Artifact,
    Build,
    BuildJob,
    BuildState,
    Event,
    IdempotencyKey,
    Project,
    ResumableState,
    ResumeRequest,
    StateCode,
    Variable,
)
from tests import factories
from tests.conftest import WRITE_KEY, make_actor, unique

TABLES = (Project, StateCode, Build, BuildState, Artifact, Variable, ResumableState, BuildJob,
          ResumeRequest, Event, IdempotencyKey)


async def _counts() -> dict[str, int]:
    return {model.__name__: await model.all().count() for model in TABLES}


def _cases(pid: str, bid: str, running: str) -> list[tuple[str, str, dict]]:
    return [
        ("projects", "/projects", {"id": unique("atomic"), "name": "x"}),
        ("projects", f"/projects/{pid}/state-codes", {"code": 50, "name": "extra"}),
        ("builds", "/builds", {"project_id": pid, "build_number": 777}),
        ("builds", f"/builds/{running}/state", {"state_code": 10, "status": "in_progress"}),
        ("builds", f"/builds/{running}/failure", {"error_message": "disk full"}),
        ("artifacts", f"/builds/{bid}/artifacts",
         {"state_code": 30, "artifact_name": "img", "artifact_type": "ami",
          "artifact_path": "ami-1"}),
        ("variables", f"/builds/{bid}/variables",
         {"variable_key": "vm_instance_id", "variable_value": "i-changed"}),
        ("resumable", f"/projects/{pid}/resumable-states", {"state_code": 40}),
        ("jobs", f"/builds/{bid}/jobs", {"platform": "jenkins", "job_name": "j"}),
        # Applies a variable override, then files the request: both or neither.
        ("resume", f"/builds/{bid}/resume",
         {"resume_reason": "flaky network", "variable_overrides": {"vm_instance_id": "i-new"}}),
    ]


@pytest.mark.parametrize("with_key", [False, True], ids=["plain", "idempotency-key"])
async def test_a_create_that_fails_half_way_writes_nothing(
    database, monkeypatch: pytest.MonkeyPatch, with_key: bool
) -> None:
    from app.main import create_app

    writer = make_actor("atomic", "write")
    pid, failed = await factories.seed_failed_build(writer, configure=True)
    bid = str(failed.id)
    running = str((await factories.build(writer, pid)).id)

    async def broken_audit(*args, **kwargs):
        raise RuntimeError("the audit write failed after the business rows")

    app = create_app(database, manage_db=False)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                     headers={"X-API-Key": WRITE_KEY}) as http:
            for module, path, body in _cases(pid, bid, running):
                before = await _counts()
                builds_before = [await Build.get(id=b) for b in (bid, running)]
                variable_before = await Variable.get(build_id=bid, variable_key="vm_instance_id")
                headers = {"Idempotency-Key": unique("k")} if with_key else {}
                with monkeypatch.context() as m:
                    m.setattr(importlib.import_module(f"app.services.{module}"),
                              "record_event", broken_audit)
                    answer = await http.post(path, json=body, headers=headers)
                assert answer.status_code == 500, (path, answer.status_code, answer.text)
                assert await _counts() == before, path
                for b in builds_before:
                    after = await Build.get(id=b.id)
                    assert (after.status, after.version, after.resume_count) == (
                        b.status, b.version, b.resume_count), path
                variable = await Variable.get(build_id=bid, variable_key="vm_instance_id")
                assert variable.variable_value == variable_before.variable_value, path
                # Without the failure the same request goes through (the case is a real write).
                if with_key:
                    again = await http.post(path, json=body, headers=headers)
                    assert again.status_code in (200, 201), (path, again.text)
                    assert "idempotent-replayed" not in again.headers
