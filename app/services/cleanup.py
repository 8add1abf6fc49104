"""Artifact cleanup: retire expired artifacts, optionally deleting their objects from storage.

An artifact is retired when it is live, not final, past its `expires_at`, and not needed by an
open resume request of its build. "Needed": the resumed state's configuration lists it (by name
or type); without such a list, every resumable artifact at or before the state the build resumes
from. Retiring is a soft delete (`deleted_at`, `deleted_reason = "expired"`) with one event.

With `delete_from_storage`, the object goes first, under the row's lock: when the backend fails,
the transaction rolls back and the record stays exactly as it was; the failure is reported and
the next run tries again. Artifacts retired earlier without deleting their objects get them
deleted (`storage_deleted_at`, one `artifact.storage_deleted` event). A second run finds nothing
left to do: retired rows are no longer candidates and deleted objects are not deleted twice.

Several processes may run it (the API process, every orchestrator worker, cron): on PostgreSQL a
real run first takes an advisory lock on a connection of its own, so one run works at a time and
the others skip that round (`skipped` in the report); the lock goes with the connection, so a
process that dies mid-run leaves nothing held. Each row is still re-read under its lock before
it is changed, so a concurrent writer (or a second run) never makes it retire or delete twice.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
from tortoise.transactions import in_transaction

from app.services import derived
from app.services.actor import Actor
from app.services.common import record_event, utcnow
from app.services.resumable import configs_for
from app.services.storage import StorageBackend, StorageError, backend_name, pick
from db.models import Artifact, Build, ResumeRequest

log = logging.getLogger("buildstate.cleanup")

CLEANUP_ACTOR = Actor(name="cleanup", scopes=frozenset({"read", "write", "admin"}), kind="system")

# Outcomes, as the report counts them.
RETIRED = "retired"
STORAGE_DELETED = "storage_deleted"
WOULD_RETIRE = "would_retire"
WOULD_DELETE_STORAGE = "would_delete_storage"
KEPT_NEEDED = "kept_needed"
FAILED = "failed"
STORAGE_SKIPPED = "storage_skipped"
GONE = "gone"  # changed by someone else between the scan and the lock

# pg_try_advisory_lock key of a real cleanup run (any constant bigint unique to this use).
LOCK_KEY = 0x62735F636C65616E  # "bs_clean"


@dataclass(frozen=True)
class CleanupItem:
    artifact_id: uuid.UUID
    build_id: uuid.UUID
    artifact_name: str
    storage_backend: str | None
    expires_at: datetime | None
    outcome: str
    detail: str | None = None


@dataclass
class CleanupReport:
    dry_run: bool
    delete_from_storage: bool
    started_at: datetime
    finished_at: datetime | None = None
    items: list[CleanupItem] = field(default_factory=list)
    skipped: str | None = None  # why nothing was looked at (another run held the lock)

    def count(self, outcome: str) -> int:
        return sum(1 for i in self.items if i.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.items:
            out[item.outcome] = out.get(item.outcome, 0) + 1
        return out

    @property
    def failures(self) -> list[CleanupItem]:
        return [i for i in self.items if i.outcome == FAILED]

    @property
    def changed(self) -> int:
        return self.count(RETIRED) + self.count(STORAGE_DELETED)


def _item(a: Artifact, outcome: str, detail: str | None = None) -> CleanupItem:
    return CleanupItem(
        artifact_id=a.id, build_id=a.build_id, artifact_name=a.artifact_name,
        storage_backend=backend_name(a), expires_at=a.expires_at, outcome=outcome, detail=detail,
    )


async def needed_by_open_requests(artifacts: list[Artifact]) -> set[uuid.UUID]:
    """The artifacts among these that an open resume request of their build still needs."""
    build_ids = list({a.build_id for a in artifacts})
    if not build_ids:
        return set()
    requests = {
        r.build_id: r
        for r in await ResumeRequest.filter(
            build_id__in=build_ids, status__in=derived.OPEN_RESUME_STATUSES
        )
    }
    if not requests:
        return set()
    projects = dict(await Build.filter(id__in=list(requests)).values_list("id", "project_id"))
    configs = await configs_for([(projects[b], r.resume_from_state) for b, r in requests.items()])
    needed: set[uuid.UUID] = set()
    for a in artifacts:
        request = requests.get(a.build_id)
        if request is None:
            continue
        config = configs.get((projects[a.build_id], request.resume_from_state))
        wanted = list(config.required_artifacts or []) if config is not None else []
        if wanted:
            if a.artifact_name in wanted or a.artifact_type in wanted:
                needed.add(a.id)
        elif a.is_resumable and a.state_code <= request.resume_from_state:
            needed.add(a.id)
    return needed


def _expired_live(now: datetime):
    return Artifact.filter(deleted_at__isnull=True, is_final=False, expires_at__lte=now)


async def run_cleanup(
    *,
    actor: Actor,
    backends: Mapping[str, StorageBackend] | None = None,
    dry_run: bool = False,
    delete_from_storage: bool = False,
    now: datetime | None = None,
    limit: int = 500,
) -> CleanupReport:
    """Retire expired, non-final artifacts no open resume needs; report what was (or would be) done."""
    actor.require("admin")
    now = now or utcnow()
    backends = backends or {}
    report = CleanupReport(dry_run=dry_run, delete_from_storage=delete_from_storage, started_at=now)
    if dry_run:  # reads only: it needs no lock
        await _run(report, actor, backends, now, limit)
        return report
    async with exclusive_run() as mine:
        if mine:
            await _run(report, actor, backends, now, limit)
        else:
            report.skipped = "another cleanup run is in progress"
            report.finished_at = utcnow()
    return report


async def _run(
    report: CleanupReport, actor: Actor, backends: Mapping[str, StorageBackend], now: datetime,
    limit: int,
) -> None:
    dry_run, delete_from_storage = report.dry_run, report.delete_from_storage
    candidates = await _expired_live(now).order_by("expires_at", "id").limit(limit)
    needed = await needed_by_open_requests(candidates)
    for artifact in candidates:
        if artifact.id in needed:
            report.items.append(_item(artifact, KEPT_NEEDED, "an open resume request needs it"))
        elif dry_run:
            report.items.append(_plan(artifact, backends, delete_from_storage))
        else:
            report.items.append(
                await _retire(actor, artifact, backends if delete_from_storage else None, now)
            )
    if delete_from_storage:
        leftovers = await Artifact.filter(
            deleted_at__isnull=False, deleted_reason="expired", storage_deleted_at__isnull=True,
        ).order_by("deleted_at", "id").limit(limit)
        for artifact in leftovers:
            backend = pick(backends, artifact)
            if backend is None:
                continue  # reported when it was retired; nothing can be done here
            if dry_run:
                report.items.append(_item(artifact, WOULD_DELETE_STORAGE))
            else:
                report.items.append(await _delete_object(actor, artifact, backend))
    report.finished_at = utcnow()


def _dialect() -> str:
    return Artifact._meta.db.capabilities.dialect


@contextlib.asynccontextmanager
async def exclusive_run() -> AsyncIterator[bool]:
    """Whether this process may run cleanup now: PostgreSQL's advisory lock, held on a
    connection of its own (not a pool slot) for the whole run; always yes on SQLite."""
    if _dialect() != "postgres":
        yield True
        return
    client = Artifact._meta.db
    conn = await asyncpg.connect(
        host=client.host, port=client.port, user=client.user, password=client.password,
        database=client.database, timeout=10,
        server_settings={"application_name": "buildstate-cleanup-lock"},
    )
    try:
        yield bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY, timeout=10))
    finally:
        try:  # closing the session releases its advisory locks
            await conn.close(timeout=5)
        except Exception:  # noqa: BLE001 - the server drops the lock with the connection
            log.debug("cleanup lock connection did not close cleanly", exc_info=True)
            conn.terminate()


def _plan(artifact: Artifact, backends: Mapping[str, StorageBackend], delete: bool) -> CleanupItem:
    if not delete:
        return _item(artifact, WOULD_RETIRE)
    if pick(backends, artifact) is None:
        return _item(artifact, WOULD_RETIRE, _no_backend(artifact))
    return _item(artifact, WOULD_RETIRE, "and delete its object")


def _no_backend(artifact: Artifact) -> str:
    return f"no '{backend_name(artifact) or 'unknown'}' storage backend configured; object kept"


async def _retire(
    actor: Actor, artifact: Artifact, backends: Mapping[str, StorageBackend] | None, now: datetime
) -> CleanupItem:
    backend = pick(backends, artifact) if backends is not None else None
    try:
        async with in_transaction():
            row = await Artifact.select_for_update().get_or_none(id=artifact.id, deleted_at=None)
            if row is None or row.is_final or row.expires_at is None or row.expires_at > now:
                return _item(artifact, GONE, "changed since the scan; left alone")
            if await needed_by_open_requests([row]):
                return _item(row, KEPT_NEEDED, "an open resume request needs it")
            if backend is not None:
                await backend.delete(row)  # raises: the transaction rolls back
                row.storage_deleted_at = now
            row.deleted_at = now
            row.deleted_reason = "expired"
            row.version += 1
            await row.save()
            build = await Build.get(id=row.build_id)
            await record_event(
                actor, "artifact.expired", target_type="artifact", target_id=row.id,
                project_id=build.project_id, build_id=build.id,
                reason=f"expired at {row.expires_at.isoformat()}",
                data={
                    "before": {"deleted_at": None, "expires_at": row.expires_at.isoformat()},
                    "after": {"deleted_at": now.isoformat(), "deleted_reason": "expired",
                              "storage_deleted": backend is not None},
                    "artifact_name": row.artifact_name,
                },
            )
    except StorageError as exc:
        return _item(artifact, FAILED, str(exc))
    if backends is not None and backend is None:
        return _item(row, STORAGE_SKIPPED, "retired; " + _no_backend(row))
    return _item(row, RETIRED, "object deleted" if backend is not None else None)


async def _delete_object(actor: Actor, artifact: Artifact, backend: StorageBackend) -> CleanupItem:
    try:
        async with in_transaction():
            row = await Artifact.select_for_update().get_or_none(
                id=artifact.id, storage_deleted_at=None
            )
            if row is None:
                return _item(artifact, GONE, "object already deleted")
            await backend.delete(row)
            now = utcnow()
            row.storage_deleted_at = now
            row.version += 1
            await row.save()
            build = await Build.get(id=row.build_id)
            await record_event(
                actor, "artifact.storage_deleted", target_type="artifact", target_id=row.id,
                project_id=build.project_id, build_id=build.id,
                data={"before": {"storage_deleted_at": None},
                      "after": {"storage_deleted_at": now.isoformat()},
                      "artifact_name": row.artifact_name},
            )
    except StorageError as exc:
        return _item(artifact, FAILED, str(exc))
    return _item(row, STORAGE_DELETED)


@dataclass(frozen=True)
class CleanupTotals:
    """What cleanup has done so far, read from the artifacts themselves (for metrics)."""

    retired: int
    storage_deleted: int
    pending_expired: int


async def cleanup_totals(now: datetime | None = None) -> CleanupTotals:
    now = now or utcnow()
    return CleanupTotals(
        retired=await Artifact.filter(deleted_reason="expired").count(),
        storage_deleted=await Artifact.filter(storage_deleted_at__isnull=False).count(),
        pending_expired=await _expired_live(now).count(),
    )
