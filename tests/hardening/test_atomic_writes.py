"""A create that fails half-way leaves nothing behind: every multi-row write is one transaction
(or, for an artifact on PostgreSQL, one statement).

The failure is injected at the last step of each service's write (its audit event), after the
business rows were inserted; the REST answer is a 500 and no row of any kind remains, with or
without an Idempotency-Key (whose key is freed, so that a retry runs the request again).

Registering an artifact writes its event row inside its single SQL statement on PostgreSQL, so
there the failure is injected in the database: a trigger on `events` refusing the row
(PostgreSQL: a plpgsql RAISE, a 500; SQLite: RAISE(ABORT), which the driver reports as a
constraint failure: a 409 "conflicts with existing data", kept for the key like any refusal,
never a made-up "already exists").
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from tortoise import connections

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


INJECTED = "injected: the audit write of the artifact failed"
_TRIGGER = {
    "postgres": (
        """CREATE FUNCTION atomic_refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.action = 'artifact.registered' THEN RAISE EXCEPTION '""" + INJECTED + """';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER atomic_refuse_event BEFORE INSERT ON "events"
            FOR EACH ROW EXECUTE FUNCTION atomic_refuse_event();""",
        """DROP TRIGGER IF EXISTS atomic_refuse_event ON "events";
        DROP FUNCTION IF EXISTS atomic_refuse_event();""",
    ),
    "sqlite": (
        """CREATE TRIGGER atomic_refuse_event BEFORE INSERT ON "events"
        WHEN NEW.action = 'artifact.registered'
        BEGIN SELECT RAISE(ABORT, '""" + INJECTED + """'); END;""",
        "DROP TRIGGER IF EXISTS atomic_refuse_event;",
    ),
}


@asynccontextmanager
async def refused_artifact_event(backend: str) -> AsyncIterator[None]:
    create, drop = _TRIGGER[backend]
    db = connections.get("default")
    await db.execute_script(create)
    try:
        yield
    finally:
        await db.execute_script(drop)


@pytest.mark.parametrize("with_key", [False, True], ids=["plain", "idempotency-key"])
async def test_a_create_that_fails_half_way_writes_nothing(
    database, backend, monkeypatch: pytest.MonkeyPatch, with_key: bool
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
                refused = module == "artifacts" and backend == "sqlite"
                if module == "artifacts":
                    async with refused_artifact_event(backend):
                        answer = await http.post(path, json=body, headers=headers)
                else:
                    with monkeypatch.context() as m:
                        m.setattr(importlib.import_module(f"app.services.{module}"),
                                  "record_event", broken_audit)
                        answer = await http.post(path, json=body, headers=headers)
                if refused:  # SQLite's RAISE(ABORT): a constraint failure, not a duplicate
                    assert answer.status_code == 409, (path, answer.text)
                    assert answer.json() == {"detail": "the change conflicts with existing data",
                                             "code": "CONFLICT"}, path
                else:
                    assert answer.status_code == 500, (path, answer.status_code, answer.text)
                    # The app's own error answer, with or without a key (not the server's
                    # plain-text one): it names the request id of the logged traceback.
                    request_id = answer.headers["x-request-id"]
                    assert answer.json() == {
                        "detail": f"internal error (request id {request_id})", "code": "INTERNAL",
                    }, path
                # The database's message stays in the log, not in the answer.
                assert INJECTED not in answer.text and "already exists" not in answer.text
                counts = await _counts()
                if refused and with_key:  # the refusal is kept for its key, like any 4xx
                    assert counts["IdempotencyKey"] == before["IdempotencyKey"] + 1, path
                    counts["IdempotencyKey"] -= 1
                assert counts == before, path
                for b in builds_before:
                    after = await Build.get(id=b.id)
                    assert (after.status, after.version, after.resume_count) == (
                        b.status, b.version, b.resume_count), path
                variable = await Variable.get(build_id=bid, variable_key="vm_instance_id")
                assert variable.variable_value == variable_before.variable_value, path
                # Without the failure the same request goes through (the case is a real write).
                if with_key:
                    again = await http.post(path, json=body, headers=headers)
                    if refused:  # the kept refusal is replayed; a new key runs it again
                        assert again.status_code == 409, (path, again.text)
                        assert "idempotent-replayed" in again.headers
                        again = await http.post(path, json=body,
                                                headers={"Idempotency-Key": unique("k")})
                    assert again.status_code in (200, 201), (path, again.text)
                    assert "idempotent-replayed" not in again.headers
