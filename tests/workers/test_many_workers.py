"""PostgreSQL: several worker processes trigger each request exactly once, even across SIGKILL."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.services import builds, projects, resume
from app.services.commands import (
    CreateBuild,
    CreateProject,
    OrchestrationConfig,
    RecordFailure,
    RequestResume,
)
from app.settings import Settings
from db.models import ResumeRequest, TriggerAttempt
from tests.conftest import BACKEND, unique
from tests.fakes.jenkins import FakeJenkins

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="several workers need PostgreSQL")
ROOT = Path(__file__).resolve().parents[2]


def _env(settings: Settings, jenkins: FakeJenkins, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDSTATE_")}
    env.update({
        "BUILDSTATE_DATABASE_URL": settings.database_url,
        "BUILDSTATE_DB_POOL_MIN": "1", "BUILDSTATE_DB_POOL_MAX": "6",
        "BUILDSTATE_JENKINS_URL": jenkins.url, "BUILDSTATE_JENKINS_USER": jenkins.user,
        "BUILDSTATE_JENKINS_TOKEN": jenkins.token,
        "BUILDSTATE_TRIGGER_RATE_PER_MINUTE": "600000", "BUILDSTATE_TRIGGER_RATE_BURST": "1000",
        "BUILDSTATE_ORCHESTRATOR_IDLE_SECONDS": "0.05", "BUILDSTATE_JOB_POLL_SECONDS": "3600",
        "BUILDSTATE_TRIGGER_RETRY_DELAYS": "0.1", "BUILDSTATE_TRIGGER_TIMEOUT_SECONDS": "3",
        # Workers also run the periodic artifact cleanup; here it would retire other tests'
        # artifacts in the shared database (and a SIGKILL mid-run leaves event-id gaps).
        "BUILDSTATE_CLEANUP_INTERVAL_SECONDS": "0",
        **extra,
    })
    return env


def _spawn(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "app.workers.orchestrator"], cwd=ROOT, env=env,
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )


async def _pending_requests(writer, count: int) -> list[str]:
    pid = unique("fleet")
    await projects.create_project(actor=writer, command=CreateProject(id=pid, name=pid))
    gate = asyncio.Semaphore(10)

    async def one(number: int) -> str:
        async with gate:
            build = await builds.create_build(
                actor=writer, command=CreateBuild(project_id=pid, build_number=number))
            await builds.record_failure(actor=writer, build_id=str(build.id), command=RecordFailure(
                error_message="spot instance reclaimed", retryable=True))
            request = await resume.request_resume(
                actor=writer, build_id=str(build.id), command=RequestResume(
                    resume_reason="fleet test", orchestration_config=OrchestrationConfig(
                        platform="jenkins", pipeline="fleet", job="image")))
            return str(request.id)

    return await asyncio.gather(*(one(n) for n in range(1, count + 1)))


async def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def _stop(procs: list[subprocess.Popen], sig: int = signal.SIGTERM) -> list[int | None]:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(sig)
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=20))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(None)
    return codes


async def test_200_requests_3_workers_200_triggers_none_twice(
    database: Settings, jenkins: FakeJenkins, writer, tmp_path: Path
) -> None:
    jenkins.trigger_delay = 0.01  # a little latency, so the workers really overlap
    jenkins.start_immediately = False  # builds wait in the queue: this test is about triggers
    env = _env(database, jenkins)
    # The workers boot (seconds of imports) while the 200 requests are filed.
    procs = [_spawn(env, tmp_path / f"worker{i}.log") for i in range(3)]
    try:
        ids = await _pending_requests(writer, 200)
        async def all_triggered() -> bool:
            return not await ResumeRequest.filter(id__in=ids, status="pending").exists()

        await _wait(all_triggered, 90, "200 triggers")
    finally:
        codes = _stop(procs)
    logs = "\n".join((tmp_path / f"worker{i}.log").read_text() for i in range(3))
    assert codes == [0, 0, 0], logs  # SIGTERM: clean exit

    sent = collections.Counter(p["RESUME_REQUEST_ID"] for p in jenkins.triggers())
    assert {k: v for k, v in sent.items() if v > 1} == {}, "a request was triggered twice"
    assert set(ids) <= set(sent)
    assert len(jenkins.trigger_calls()) == len(sent)
    attempts = await TriggerAttempt.filter(resume_request_id__in=ids)
    assert len(attempts) == 200 and {a.status for a in attempts} == {"succeeded"}
    assert len({a.worker for a in attempts}) >= 2, "one worker did everything"
    assert not await ResumeRequest.filter(id__in=ids, lease_owner__isnull=False).exists()


async def test_worker_killed_mid_trigger_still_exactly_once(
    database: Settings, jenkins: FakeJenkins, writer, tmp_path: Path
) -> None:
    jenkins.trigger_delay = 8.0  # Jenkins queues the build, then is slow to answer
    [request_id] = await _pending_requests(writer, 1)
    env = _env(database, jenkins, BUILDSTATE_ORCHESTRATOR_LEASE_SECONDS="3")
    first = _spawn(env, tmp_path / "first.log")
    try:
        async def arrived() -> bool:
            return any(p["RESUME_REQUEST_ID"] == request_id for p in jenkins.triggers())

        await _wait(arrived, 30, "the first worker's trigger")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    attempt = await TriggerAttempt.get(resume_request_id=request_id)
    assert attempt.status == "sending"  # it died with the call in flight

    jenkins.trigger_delay = 0.0
    second = _spawn(env, tmp_path / "second.log")
    try:
        async def taken_over() -> bool:
            return (await ResumeRequest.get(id=request_id)).status != "pending"

        await _wait(taken_over, 30, "the takeover")
    finally:
        codes = _stop([second])
    assert codes == [0], (tmp_path / "second.log").read_text()
    mine = [p for p in jenkins.triggers() if p["RESUME_REQUEST_ID"] == request_id]
    assert len(mine) == 1 and len(jenkins.trigger_calls()) == 1
    [attempt] = await TriggerAttempt.filter(resume_request_id=request_id)
    assert attempt.status == "succeeded" and attempt.response["adopted"] is True
    row = await ResumeRequest.get(id=request_id)
    assert row.status in ("triggered", "running") and row.orchestration_job_id == "1"


async def test_sigterm_mid_trigger_finishes_the_trigger_and_releases_leases(
    database: Settings, jenkins: FakeJenkins, writer, tmp_path: Path
) -> None:
    jenkins.trigger_delay = 1.0
    ids = await _pending_requests(writer, 2)
    proc = _spawn(_env(database, jenkins), tmp_path / "worker.log")
    try:
        async def sending() -> bool:
            return await TriggerAttempt.filter(resume_request_id__in=ids).exists()

        await _wait(sending, 30, "a trigger in flight")
    finally:
        codes = _stop([proc])
    assert codes == [0], (tmp_path / "worker.log").read_text()
    attempts = await TriggerAttempt.filter(resume_request_id__in=ids)
    assert attempts and {a.status for a in attempts} == {"succeeded"}  # none left `sending`
    assert not await ResumeRequest.filter(id__in=ids, lease_owner__isnull=False).exists()


async def test_worker_survives_its_database_connections_being_killed(
    database: Settings, jenkins: FakeJenkins, writer, tmp_path: Path
) -> None:
    """What a PostgreSQL restart does to a worker's pool, without restarting the shared server."""
    from tests.conftest import PG_ADMIN_DSN
    import asyncpg

    [first] = await _pending_requests(writer, 1)
    proc = _spawn(_env(database, jenkins), tmp_path / "worker.log")
    try:
        async def done(request_id: str) -> bool:
            return (await ResumeRequest.get(id=request_id)).status != "pending"

        await _wait(lambda: done(first), 30, "the first trigger")
        name = database.database_url.rsplit("/", 1)[1].split("?")[0]
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
        finally:
            await admin.close()
        assert killed >= 1
        for _ in range(50):  # this process's own pool notices the dead connections too
            try:
                [second] = await _pending_requests(writer, 1)
                break
            except Exception:  # noqa: BLE001 - a killed pooled connection, once
                await asyncio.sleep(0.1)
        await _wait(lambda: done(second), 30, "a trigger after the connections died")
        assert proc.poll() is None
    finally:
        codes = _stop([proc])
    assert codes == [0], (tmp_path / "worker.log").read_text()
    assert len(jenkins.trigger_calls()) == 2
