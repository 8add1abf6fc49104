"""Retire expired artifacts: `python -m app.workers.cleanup [--dry-run] [--delete-from-storage]`.

Prints what it did (or would do) and exits 1 when a storage backend failed for some artifact
(those records are left as they were and the next run tries again), else 0. The same job runs
every BUILDSTATE_CLEANUP_INTERVAL_SECONDS (0 = never) inside the API process when it manages
the database and inside every `python -m app.workers.orchestrator` process. On PostgreSQL the
runs take turns through an advisory lock (app.services.cleanup.exclusive_run): a run that finds
the lock taken skips that round, so any number of processes may have it on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

from app.database import close_db, init_db
from app.metrics import record_cleanup
from app.services.cleanup import CLEANUP_ACTOR, CleanupReport, run_cleanup
from app.services.storage import StorageBackend
from app.services.storage.local import LocalStorage
from app.services.storage.s3 import S3Storage
from app.settings import Settings, get_settings
from app.workers.loop import Loop

log = logging.getLogger("buildstate.cleanup")


def configured_backends(settings: Settings) -> dict[str, StorageBackend]:
    backends: dict[str, StorageBackend] = {
        "s3": S3Storage(endpoint_url=settings.storage_s3_endpoint_url,
                        region=settings.storage_s3_region),
    }
    if settings.storage_local_root:
        backends["local"] = LocalStorage(settings.storage_local_root)
    return backends


def render(report: CleanupReport) -> str:
    mode = "dry run" if report.dry_run else "run"
    storage = "with" if report.delete_from_storage else "without"
    lines = [f"artifact cleanup {mode} at {report.started_at.isoformat()} ({storage} storage deletion)"]
    if report.skipped:
        lines.append(f"skipped: {report.skipped}")
    for item in report.items:
        detail = f" - {item.detail}" if item.detail else ""
        lines.append(
            f"  {item.outcome:<20} {item.artifact_id} {item.artifact_name!r} "
            f"[{item.storage_backend or '-'}]{detail}"
        )
    counts = ", ".join(f"{k}={v}" for k, v in sorted(report.counts.items())) or "nothing to do"
    lines.append(f"summary: {counts}")
    return "\n".join(lines)


def as_json(report: CleanupReport) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run, "delete_from_storage": report.delete_from_storage,
        "started_at": report.started_at.isoformat(),
        "finished_at": report.finished_at.isoformat() if report.finished_at else None,
        "counts": report.counts, "skipped": report.skipped,
        "items": [
            {"artifact_id": str(i.artifact_id), "build_id": str(i.build_id),
             "artifact_name": i.artifact_name, "storage_backend": i.storage_backend,
             "outcome": i.outcome, "detail": i.detail}
            for i in report.items
        ],
    }


async def cleanup_once(
    *, dry_run: bool = False, delete_from_storage: bool | None = None,
    settings: Settings | None = None,
) -> CleanupReport:
    """One pass with the configured backends (the ORM must be running)."""
    settings = settings or get_settings()
    delete = settings.cleanup_delete_from_storage if delete_from_storage is None else delete_from_storage
    report = await run_cleanup(
        actor=CLEANUP_ACTOR, backends=configured_backends(settings), dry_run=dry_run,
        delete_from_storage=delete, limit=settings.cleanup_batch_size,
    )
    if report.skipped:
        log.info("artifact cleanup skipped: %s", report.skipped)
        return report
    record_cleanup(report)
    if report.items:
        log.info("artifact cleanup: %s", report.counts, extra={"cleanup": report.counts})
    for failure in report.failures:
        log.warning("artifact cleanup could not delete %s (%s): %s", failure.artifact_id,
                    failure.artifact_name, failure.detail)
    return report


def cleanup_loop(settings: Settings | None = None) -> Loop:
    """The periodic form, for a worker process or the service process (one run per interval)."""
    settings = settings or get_settings()

    async def step() -> bool:
        await cleanup_once(settings=settings)
        return False  # never "busy": wait a whole interval before the next run

    return Loop("artifact-cleanup", step, idle_seconds=float(settings.cleanup_interval_seconds),
                timeout_seconds=900.0, max_backoff_seconds=300.0)


async def serve(stop: asyncio.Event, settings: Settings | None = None) -> None:
    """Run cleanup every BUILDSTATE_CLEANUP_INTERVAL_SECONDS until `stop` (ORM already up)."""
    await cleanup_loop(settings).run(stop)


@dataclass
class Periodic:
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def close(self) -> None:
        self.stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), 30)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - shutting down
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


def start_periodic(settings: Settings | None = None) -> Periodic | None:
    """Start the periodic cleanup in this process unless its interval is 0."""
    settings = settings or get_settings()
    if settings.cleanup_interval_seconds <= 0:
        return None
    stop = asyncio.Event()
    return Periodic(stop, asyncio.create_task(serve(stop, settings), name="artifact-cleanup"))


async def _main(args: argparse.Namespace) -> int:
    await init_db(get_settings())
    try:
        report = await cleanup_once(dry_run=args.dry_run, delete_from_storage=args.delete_from_storage)
    finally:
        await close_db()
    print(json.dumps(as_json(report), indent=2) if args.json else render(report))
    return 1 if report.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.workers.cleanup",
        description="Retire expired, non-final artifacts that no open resume request needs.",
    )
    parser.add_argument("--dry-run", action="store_true", help="report what would be done; change nothing")
    parser.add_argument("--delete-from-storage", action="store_true",
                        help="also delete the objects from their storage backend")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
