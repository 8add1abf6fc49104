"""Artifact cleanup against a local folder and a moto S3 server on 127.0.0.1: dry run, real run,
a backend that fails, and a second run that finds nothing to do."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from app.services import artifacts, resume
from app.services.cleanup import (
    CLEANUP_ACTOR, FAILED, GONE, KEPT_NEEDED, RETIRED, STORAGE_DELETED, STORAGE_SKIPPED,
    WOULD_DELETE_STORAGE, WOULD_RETIRE, run_cleanup,
)
from app.services.commands import RegisterArtifact, RequestResume
from app.services.common import utcnow
from app.services.storage import StorageError
from app.services.storage.local import LocalStorage
from app.services.storage.s3 import S3Storage
from app.workers.cleanup import render
from db.models import Artifact, Event
from tests import factories as f

BUCKET = "bs-artifacts"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def s3(moto_endpoint):
    client = boto3.client(
        "s3", endpoint_url=moto_endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    client.create_bucket(Bucket=BUCKET)
    return client


def _exists(s3, key: str) -> bool:
    return s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount", 0) == 1


async def _artifact(writer, build_id, name: str, path: str, *, backend: str | None, expired=True,
                    final=False, **extra) -> Artifact:
    a = await artifacts.register_artifact(actor=writer, build_id=str(build_id), command=RegisterArtifact(
        state_code=10, artifact_name=name, artifact_type="file", artifact_path=path,
        storage_backend=backend, is_final=final, **extra))
    when = utcnow() + (timedelta(hours=-1) if expired else timedelta(days=7))
    await Artifact.filter(id=a.id).update(expires_at=when)
    return await Artifact.get(id=a.id)


def _mine(report, *rows: Artifact) -> dict[str, tuple[str, str | None]]:
    ids = {r.id: r.artifact_name for r in rows}
    return {ids[i.artifact_id]: (i.outcome, i.detail) for i in report.items if i.artifact_id in ids}


async def _snapshot(rows: list[Artifact]) -> dict:
    fresh = {a.id: a for a in await Artifact.filter(id__in=[r.id for r in rows])}
    return {r.artifact_name: (fresh[r.id].deleted_at, fresh[r.id].storage_deleted_at,
                              fresh[r.id].version) for r in rows}


async def test_dry_run_real_run_failures_and_a_second_run(database, writer, tmp_path, s3):
    root = tmp_path / "store"
    (root / "images").mkdir(parents=True)
    (root / "images" / "disk.qcow2").write_bytes(b"disk")
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not ours")
    s3.put_object(Bucket=BUCKET, Key="snap/one.vmdk", Body=b"snapshot")

    pid = await f.project(writer)
    build = await f.build(writer, pid)
    local = await _artifact(writer, build.id, "local-disk", str(root / "images" / "disk.qcow2"), backend="local")
    remote = await _artifact(writer, build.id, "s3-snap", f"s3://{BUCKET}/snap/one.vmdk", backend="s3")
    broken = await _artifact(writer, build.id, "s3-missing-bucket", "s3://no-such-bucket/x", backend="s3")
    escape = await _artifact(writer, build.id, "outside-root", str(outside), backend="local")
    other = await _artifact(writer, build.id, "vsphere-template", "vsphere://dc/vm", backend="vsphere")
    final = await _artifact(writer, build.id, "final-image", "s3://bs-artifacts/final", backend="s3", final=True)
    fresh = await _artifact(writer, build.id, "fresh", "s3://bs-artifacts/fresh", backend="s3", expired=False)
    mine = [local, remote, broken, escape, other, final, fresh]

    # A failed build with an open resume request: what its resumed state needs is kept.
    _, failed = await f.seed_failed_build(writer, configure=True)
    await resume.request_resume(actor=writer, build_id=str(failed.id),
                                command=RequestResume(resume_reason="mirror was down"))
    [needed] = await Artifact.filter(build_id=failed.id)
    await Artifact.filter(id=needed.id).update(expires_at=utcnow() - timedelta(hours=1))
    spare = await _artifact(writer, failed.id, "spare-log", str(root / "spare.log"), backend="local")
    mine += [needed, spare]

    backends = {"local": LocalStorage(root), "s3": S3Storage(client=s3)}
    before = await _snapshot(mine)
    events_before = await Event.filter(build_id__in=[build.id, failed.id]).count()

    dry = await run_cleanup(actor=CLEANUP_ACTOR, backends=backends, dry_run=True, delete_from_storage=True)
    planned = _mine(dry, *mine)
    assert {k: v[0] for k, v in planned.items()} == {
        "local-disk": WOULD_RETIRE, "s3-snap": WOULD_RETIRE, "s3-missing-bucket": WOULD_RETIRE,
        "outside-root": WOULD_RETIRE, "vsphere-template": WOULD_RETIRE,
        "rhel9-snapshot-001": KEPT_NEEDED, "spare-log": WOULD_RETIRE}
    assert "no 'vsphere' storage backend" in planned["vsphere-template"][1]
    assert await _snapshot(mine) == before
    assert await Event.filter(build_id__in=[build.id, failed.id]).count() == events_before
    assert (root / "images" / "disk.qcow2").exists() and _exists(s3, "snap/one.vmdk")

    real = await run_cleanup(actor=CLEANUP_ACTOR, backends=backends, delete_from_storage=True)
    done = _mine(real, *mine)
    assert {k: v[0] for k, v in done.items()} == {
        "local-disk": RETIRED, "s3-snap": RETIRED, "s3-missing-bucket": FAILED,
        "outside-root": FAILED, "vsphere-template": STORAGE_SKIPPED,
        "rhel9-snapshot-001": KEPT_NEEDED, "spare-log": RETIRED}
    assert "NoSuchBucket" in done["s3-missing-bucket"][1]
    assert "outside the storage root" in done["outside-root"][1]
    assert not (root / "images" / "disk.qcow2").exists() and not _exists(s3, "snap/one.vmdk")
    assert outside.read_text() == "not ours"
    after = await _snapshot(mine)
    for name in ("s3-missing-bucket", "outside-root", "final-image", "fresh", "rhel9-snapshot-001"):
        assert after[name] == before[name], f"{name} changed"
    for name in ("local-disk", "s3-snap"):
        assert after[name][0] is not None and after[name][1] is not None
    assert after["vsphere-template"][0] is not None and after["vsphere-template"][1] is None
    rows = {a.artifact_name: a for a in await Artifact.filter(id__in=[a.id for a in mine])}
    assert rows["local-disk"].deleted_reason == "expired"
    expired_events = await Event.filter(build_id__in=[build.id, failed.id], action="artifact.expired")
    assert sorted(e.data["artifact_name"] for e in expired_events) == [
        "local-disk", "s3-snap", "spare-log", "vsphere-template"]
    assert {e.actor for e in expired_events} == {"cleanup"}

    # Twice: nothing new happens; only the failures are tried (and reported) again.
    events_mid = await Event.filter(build_id__in=[build.id, failed.id]).count()
    again = await run_cleanup(actor=CLEANUP_ACTOR, backends=backends, delete_from_storage=True)
    assert {k: v[0] for k, v in _mine(again, *mine).items()} == {
        "s3-missing-bucket": FAILED, "outside-root": FAILED, "rhel9-snapshot-001": KEPT_NEEDED}
    assert await _snapshot(mine) == after
    assert await Event.filter(build_id__in=[build.id, failed.id]).count() == events_mid


class Flaky:
    """A backend that fails until told otherwise. (The log is shared by the whole session:
    other tests' expired artifacts may pass through it too.)"""

    name = "local"

    def __init__(self) -> None:
        self.broken = True
        self.deleted: list[str] = []

    async def delete(self, artifact: Artifact) -> None:
        if self.broken:
            raise StorageError("storage is read-only right now")
        self.deleted.append(artifact.artifact_name)


async def test_retire_first_delete_later_and_recover_from_failure(database, writer, tmp_path):
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    a = await _artifact(writer, build.id, "cache", "/var/cache/x", backend="local")
    b = await _artifact(writer, build.id, "cache-2", "/var/cache/y", backend="local")
    flaky = Flaky()

    first = await run_cleanup(actor=CLEANUP_ACTOR, backends={"local": flaky})  # records only
    assert {k: v[0] for k, v in _mine(first, a, b).items()} == {"cache": RETIRED, "cache-2": RETIRED}
    failing = await run_cleanup(actor=CLEANUP_ACTOR, backends={"local": flaky}, delete_from_storage=True)
    assert {k: v[0] for k, v in _mine(failing, a, b).items()} == {"cache": FAILED, "cache-2": FAILED}
    assert (await Artifact.get(id=a.id)).storage_deleted_at is None

    dry = await run_cleanup(actor=CLEANUP_ACTOR, backends={"local": flaky}, dry_run=True,
                            delete_from_storage=True)
    assert {k: v[0] for k, v in _mine(dry, a, b).items()} == {
        "cache": WOULD_DELETE_STORAGE, "cache-2": WOULD_DELETE_STORAGE}
    flaky.broken = False
    fixed = await run_cleanup(actor=CLEANUP_ACTOR, backends={"local": flaky}, delete_from_storage=True)
    assert {k: v[0] for k, v in _mine(fixed, a, b).items()} == {
        "cache": STORAGE_DELETED, "cache-2": STORAGE_DELETED}
    assert sorted(n for n in flaky.deleted if n.startswith("cache")) == ["cache", "cache-2"]
    assert [e.action for e in await Event.filter(target_id=str(a.id)).order_by("id")] == [
        "artifact.registered", "artifact.expired", "artifact.storage_deleted"]
    last = await run_cleanup(actor=CLEANUP_ACTOR, backends={"local": flaky}, delete_from_storage=True)
    assert _mine(last, a, b) == {}
    assert sorted(n for n in flaky.deleted if n.startswith("cache")) == ["cache", "cache-2"]
    assert GONE not in {i.outcome for i in last.items if i.artifact_id in (a.id, b.id)}


async def test_the_command_line(database, writer, tmp_path, s3, moto_endpoint):
    root = tmp_path / "cli-store"
    root.mkdir()
    (root / "old.tar").write_bytes(b"x")
    pid = await f.project(writer)
    build = await f.build(writer, pid)
    old = await _artifact(writer, build.id, "old-tarball", str(root / "old.tar"), backend="local")
    env = {**os.environ, **AWS_ENV, "BUILDSTATE_DATABASE_URL": database.database_url,
           "BUILDSTATE_STORAGE_LOCAL_ROOT": str(root),
           "BUILDSTATE_STORAGE_S3_ENDPOINT_URL": moto_endpoint, "BUILDSTATE_LOG_LEVEL": "WARNING"}

    async def run(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.workers.cleanup", *args, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode in (0, 1), err.decode()
        return proc.returncode, out.decode()

    dry = await run_cleanup(actor=CLEANUP_ACTOR, dry_run=True)
    text = render(dry)
    assert "would_retire" in text and "old-tarball" in text and "summary:" in text
    assert (await Artifact.get(id=old.id)).deleted_at is None
    # One real run through the command line, configured by the environment alone.
    code, out = await run("--delete-from-storage", "--json")
    report = json.loads(out)
    [item] = [i for i in report["items"] if i["artifact_id"] == str(old.id)]
    assert item["outcome"] == "retired" and not (root / "old.tar").exists()
    assert code == (1 if report["counts"].get("failed") else 0)
    assert (await Artifact.get(id=old.id)).storage_deleted_at is not None


async def test_the_periodic_cleanup_of_a_process(database, writer):
    from app.workers.cleanup import start_periodic

    pid = await f.project(writer)
    build = await f.build(writer, pid)
    old = await _artifact(writer, build.id, "stale", "/tmp/stale", backend="local")
    assert start_periodic(database.model_copy(update={"cleanup_interval_seconds": 0})) is None
    periodic = start_periodic(database.model_copy(update={"cleanup_interval_seconds": 3600}))
    try:
        for _ in range(200):
            if (await Artifact.get(id=old.id)).deleted_at is not None:
                break
            await asyncio.sleep(0.05)
        assert (await Artifact.get(id=old.id)).deleted_reason == "expired"
    finally:
        await periodic.close()
    assert periodic.task.done()


async def test_the_orchestrator_worker_process_runs_cleanup(database, writer, tmp_path):
    """`python -m app.workers.orchestrator` runs the periodic cleanup too (interval > 0)."""
    from tests.observability.servers import ROOT

    pid = await f.project(writer)
    build = await f.build(writer, pid)
    old = await _artifact(writer, build.id, "worker-stale", "/tmp/worker-stale", backend="local")
    kept = await _artifact(writer, build.id, "worker-fresh", "/tmp/worker-fresh", backend="local",
                           expired=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDSTATE_")}
    env.update({"BUILDSTATE_DATABASE_URL": database.database_url,
                "BUILDSTATE_CLEANUP_INTERVAL_SECONDS": "1", "BUILDSTATE_DB_POOL_MAX": "3"})
    log = tmp_path / "orchestrator.log"
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.workers.orchestrator", cwd=ROOT, env=env,
            stdout=sink, stderr=asyncio.subprocess.STDOUT)
    try:
        for _ in range(600):
            if (await Artifact.get(id=old.id)).deleted_at is not None or proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert proc.returncode is None, log.read_text()
        row = await Artifact.get(id=old.id)
        assert row.deleted_reason == "expired", log.read_text()
        # The next rounds (every second) find nothing more to do: one event, the fresh one kept.
        await asyncio.sleep(1.5)
        assert await Event.filter(action="artifact.expired", target_id=str(old.id)).count() == 1
        assert (await Artifact.get(id=kept.id)).deleted_at is None
    finally:
        if proc.returncode is None:
            proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 30) == 0, log.read_text()


async def test_runs_take_turns_on_postgres(database, backend, writer):
    """A real run waits for no one: when another holds the lock it skips the round untouched."""
    if backend != "postgres":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite has one writing process")
    from app.services.cleanup import exclusive_run

    pid = await f.project(writer)
    build = await f.build(writer, pid)
    old = await _artifact(writer, build.id, "contended", "/tmp/contended", backend="local")
    async with exclusive_run() as first:
        assert first
        async with exclusive_run() as second:
            assert not second
        skipped = await run_cleanup(actor=CLEANUP_ACTOR)
        assert skipped.skipped and skipped.items == [] and "skipped" in render(skipped)
        assert (await Artifact.get(id=old.id)).deleted_at is None
        dry = await run_cleanup(actor=CLEANUP_ACTOR, dry_run=True)  # reads only: no lock needed
        assert _mine(dry, old) == {"contended": (WOULD_RETIRE, None)}
    done = await run_cleanup(actor=CLEANUP_ACTOR)
    assert done.skipped is None and _mine(done, old) == {"contended": (RETIRED, None)}
    # Many at once: exactly one event for the artifact, however the runs interleave.
    again = await _artifact(writer, build.id, "contended-2", "/tmp/contended-2", backend="local")
    reports = await asyncio.gather(*(run_cleanup(actor=CLEANUP_ACTOR) for _ in range(4)))
    assert sum(_mine(r, again).get("contended-2", ("",))[0] == RETIRED for r in reports) == 1
    assert await Event.filter(action="artifact.expired", target_id=str(again.id)).count() == 1
