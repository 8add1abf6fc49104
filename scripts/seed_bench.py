"""Seed a PostgreSQL database with the benchmark workload of issue 6.

    python scripts/seed_bench.py --database-url URL --builds N --ids-file FILE [--api-key KEY]
                                 [--artifacts-per-build 50] [--scaling-artifacts 10,50,500,1000
                                 --scaling-ids-file FILE] [--method auto|orm|copy]

Shape (so figures compare with the issue's): 10 projects, each with 10 resumable-state configs
(codes 10..100); N builds spread over them; per build 20 state entries (codes 5, 10 .. 100, all
completed except the last, which is completed, failed or in_progress in turn), 50 artifacts (30
resumable, 2 of those soft-deleted, so a resume context returns 28) and 30 variables (6 sensitive).

Rows are built as plain column dicts, in chunks of --flush-builds builds each generated from its
own seed, then written either through the project's Tortoise models (`Model(**row)` +
`bulk_create` in large batches; the default up to 5,000 builds) or, for the 100,000-build
scaling database, with PostgreSQL COPY into the tables and columns the same models declare, by
--jobs worker processes, with the per-row foreign-key triggers skipped (superuser only; the rows
are consistent by construction) and the secondary indexes of the three big tables dropped and
rebuilt from their exact definitions afterwards (~4 minutes of CPU on 2 cores for 100,000
builds). Both writers get the same rows for the same --seed. Sensitive variable values are
encrypted with app.services.crypto.encrypt (a pool of 256 distinct encrypted secrets: a resume
context masks them and never decrypts).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from db import models as m  # noqa: E402
from db.config import tortoise_config  # noqa: E402
from db.migrate import migrate  # noqa: E402

try:  # Sensitive values are encrypted at rest exactly as the service does it.
    from app.services.crypto import encrypt as _encrypt  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - the service module is written concurrently
    _encrypt = None

PROJECTS = 10
STATE_CODES = [5, *range(10, 101, 5)][:20]  # 5, 10, 15 .. 100: 20 entries
assert STATE_CODES == [5 * (k + 1) for k in range(20)]
CONFIG_CODES = list(range(10, 101, 10))
VARIABLES = 30
SENSITIVE = 6
ARTIFACT_TYPES = ["vm_snapshot", "ami", "ebs_snapshot", "disk_image", "config_file"]
OTHER_TYPES = ["build_log", "test_report", "manifest", "sbom"]
BACKENDS = [
    ("s3", "us-east-1"),
    ("azure_blob", "westeurope"),
    ("gcp_storage", "europe-west1"),
    ("vsphere", "dc-lab-01"),
    ("local", None),
]
NAMED_VARIABLES = [
    "vm_instance_id", "network_id", "subnet_id", "security_group_id", "base_image_id",
    "packer_build_name", "ansible_inventory", "vpc_id", "disk_size_gb", "kernel_version",
]
SECRET_VARIABLES = [
    "ssh_private_key", "vault_token", "registry_password", "cloud_api_secret",
    "db_password", "signing_key",
]
BASE_TIME = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
FAR_FUTURE = datetime(2099, 1, 1, tzinfo=UTC)


def encrypt(value: str) -> str:
    if _encrypt is not None:
        return _encrypt(value)
    # TODO(bench): app.services.crypto did not exist when this ran: value stored in clear.
    return value


_SECRETS: list[str] = []


def secret_value(rnd: random.Random) -> str:
    """An encrypted secret from a pool of 256 (Fernet costs ~50 µs; reads never decrypt them)."""
    if not _SECRETS:
        _SECRETS.extend(encrypt(f"s3cr3t-{i:04d}-{random.Random(i).getrandbits(96):024x}") for i in range(256))
    return _SECRETS[rnd.randrange(len(_SECRETS))]


def artifact_layout(n: int) -> tuple[int, set[int]]:
    """(number of resumable artifacts, indices of the soft-deleted ones) for n artifacts."""
    resumable = round(n * 0.6)
    deleted = round(n / 25) if resumable else 0
    step = max(1, resumable // max(1, deleted))
    return resumable, {3 + j * step for j in range(deleted) if 3 + j * step < resumable}


def required_artifact_index(code: int, deleted: set[int]) -> int:
    """A live resumable artifact (50-artifact layout) recorded at `code`."""
    j = code // 5 - 1
    return j + 20 if j in deleted else j


class Gen:
    """Deterministic row generator: every method returns column dicts keyed by model field."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rnd.getrandbits(128), version=4)

    def hex(self, n: int) -> str:
        return f"{self.rnd.getrandbits(4 * n):0{n}x}"

    def projects(self) -> tuple[list[dict], list[dict]]:
        _, deleted50 = artifact_layout(50)
        projects, configs = [], []
        for p in range(PROJECTS):
            pid = f"bench-p{p:02d}"
            projects.append(
                dict(id=pid, name=f"Bench project {p}", description="benchmark workload (issue 6)",
                     auto_resume=False, max_auto_resumes=3, default_platform="jenkins",
                     created_at=BASE_TIME, updated_at=BASE_TIME)
            )
            for code in CONFIG_CODES:
                req_art = [f"art-{required_artifact_index(code, deleted50):03d}", "vm_snapshot"]
                req_var = ["vm_instance_id", "network_id"]
                if code == 100:
                    req_var.append("ssh_private_key")
                    if p % 2:  # odd projects need an artifact that was soft-deleted: can't resume
                        req_art.append(f"art-{min(deleted50):03d}")
                configs.append(
                    dict(id=self.uuid(), project_id=pid, state_code=code, is_resumable=True,
                         resume_strategy="from_artifact", required_artifacts=req_art,
                         required_variables=req_var,
                         resume_command=f"./build.sh --resume-from {code} --build-id $BUILD_ID",
                         resume_timeout_seconds=3600,
                         description=f"Resume {pid} from state {code}",
                         notes="restore the latest snapshot, then rerun the state",
                         created_at=BASE_TIME, updated_at=BASE_TIME)
                )
        return projects, configs

    def build(self, i: int, *, n_artifacts: int, project: int | None = None,
              build_number: int | None = None) -> dict[str, list[dict]]:
        """One build with its history, artifacts and variables."""
        p = i % PROJECTS if project is None else project
        bid = self.uuid()
        started = BASE_TIME + timedelta(minutes=i)
        outcome = ("failed", "completed", "in_progress")[i % 3]
        states = []
        for k, code in enumerate(STATE_CODES):
            last = k == len(STATE_CODES) - 1
            status = outcome if last else "completed"
            at = started + timedelta(minutes=3 * k)
            states.append(
                dict(id=self.uuid(), build_id=bid, state_code=code, status=status,
                     message=f"state {code} {status}", metadata={"step": k},
                     error_message="Network timeout during package installation" if status == "failed" else None,
                     error_code="E_NET_TIMEOUT" if status == "failed" else None,
                     retryable=True if status == "failed" else None,
                     created_at=at, updated_at=at)
            )
        last_at = states[-1]["created_at"]
        build = dict(
            id=bid, project_id=f"bench-p{p:02d}", build_number=build_number or i // PROJECTS + 1,
            platform="vsphere", os_version="rhel-9.4", image_type="base",
            status={"failed": "failed", "completed": "completed", "in_progress": "running"}[outcome],
            current_state=100,
            last_successful_state=100 if outcome == "completed" else 95,
            failed_state=100 if outcome == "failed" else None,
            metadata={"ci": "jenkins", "job": f"image-build-{p}", "commit": self.hex(40)},
            resume_count=0, version=1, started_at=started,
            finished_at=last_at if outcome != "in_progress" else None,
            created_at=started, updated_at=last_at,
        )
        resumable, deleted = artifact_layout(n_artifacts)
        artifacts = []
        for a in range(n_artifacts):
            code = STATE_CODES[a % 20]
            is_res = a < resumable
            atype = ARTIFACT_TYPES[a % len(ARTIFACT_TYPES)] if is_res else OTHER_TYPES[a % len(OTHER_TYPES)]
            backend, region = BACKENDS[a % len(BACKENDS)]
            bucket = f"bench-{backend.replace('_', '-')}-p{p:02d}"
            key = f"builds/{bid}/state-{code:03d}/art-{a:03d}.{'vmdk' if is_res else 'json'}"
            at = started + timedelta(minutes=3 * (a % 20), seconds=a)
            artifacts.append(
                dict(id=self.uuid(), build_id=bid, state_code=code, artifact_name=f"art-{a:03d}",
                     artifact_type=atype, artifact_path=f"{backend}://{bucket}/{key}",
                     storage_backend=backend, storage_region=region, storage_bucket=bucket,
                     storage_key=key, size_bytes=self.rnd.randrange(10_000, 40_000_000_000),
                     checksum=self.hex(64), checksum_algorithm="sha256", is_resumable=is_res,
                     is_final=a == resumable - 1,
                     expires_at=FAR_FUTURE if a % 4 == 0 else None,
                     metadata={"vm_id": f"vm-{self.hex(8)}", "snapshot_id": f"snap-{self.hex(12)}",
                               "tool": "packer", "state": code},
                     version=1, deleted_at=at + timedelta(hours=1) if a in deleted else None,
                     created_at=at, updated_at=at)
            )
        variables = []
        for v in range(VARIABLES):
            sensitive = v >= VARIABLES - SENSITIVE
            if sensitive:
                key, value = SECRET_VARIABLES[v - (VARIABLES - SENSITIVE)], secret_value(self.rnd)
            elif v < len(NAMED_VARIABLES):
                key, value = NAMED_VARIABLES[v], f"{NAMED_VARIABLES[v].split('_')[0]}-{self.hex(16)}"
            else:
                key, value = f"var_{v:02d}", f"value-{self.hex(24)}"
            at = started + timedelta(minutes=3 * (v % 20))
            variables.append(
                dict(id=self.uuid(), build_id=bid, variable_key=key, variable_value=value,
                     variable_type="string", set_at_state=STATE_CODES[v % 20], is_sensitive=sensitive,
                     is_required_for_resume=key in ("vm_instance_id", "network_id", "ssh_private_key"),
                     version=1, created_at=at, updated_at=at)
            )
        return {"builds": [build], "states": states, "artifacts": artifacts, "variables": variables}


TABLES: dict[str, type] = {
    "projects": m.Project, "configs": m.ResumableState, "builds": m.Build,
    "states": m.BuildState, "artifacts": m.Artifact, "variables": m.Variable, "keys": m.ApiKey,
}
ORDER = ["projects", "configs", "builds", "states", "artifacts", "variables", "keys"]


class OrmWriter:
    """Writes through the Tortoise models: Model(**row) + bulk_create in batches."""

    def __init__(self, batch: int = 5000) -> None:
        self.batch = batch

    async def write(self, kind: str, rows: list[dict]) -> None:
        model = TABLES[kind]
        for start in range(0, len(rows), self.batch):
            chunk = [model(**row) for row in rows[start:start + self.batch]]
            await model.bulk_create(chunk, batch_size=self.batch)


class CopyWriter:
    """COPY into the tables and columns the models declare (for the 100,000-build database)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def write(self, kind: str, rows: list[dict]) -> None:
        if not rows:
            return
        model = TABLES[kind]
        meta = model._meta
        names = list(rows[0])
        columns = [meta.fields_db_projection.get(n, n) for n in names]
        json_cols = {n for n in names if type(meta.fields_map.get(n)).__name__ == "JSONField"}
        records = [
            tuple(orjson.dumps(r[n]).decode() if n in json_cols else r[n] for n in names) for r in rows
        ]
        await self.conn.copy_records_to_table(meta.db_table, records=records, columns=columns)


def api_key_row(key: str) -> dict:
    now = datetime.now(UTC)
    return dict(id=uuid.uuid4(), name="bench", key_hash=hashlib.sha256(key.encode()).hexdigest(),
                prefix=key[:8], scopes=["read", "write"], created_at=now, updated_at=now)


BULK_TABLES = ("build_states", "build_artifacts", "build_variables")


def chunk_rows(seed: int, chunk: int, first: int, last: int, per_build: int) -> dict[str, list[dict]]:
    """Builds first..last-1: the same rows whichever process or writer handles the chunk."""
    gen = Gen(seed * 1_000_003 + chunk + 1)
    buf: dict[str, list[dict]] = {k: [] for k in ORDER}
    for i in range(first, last):
        for kind, rows in gen.build(i, n_artifacts=per_build).items():
            buf[kind].extend(rows)
    return buf


async def copy_connection(url: str) -> Any:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    await conn.execute("SET synchronous_commit = off")
    # The rows are generated consistent: skip the per-row foreign-key triggers when allowed
    # (superuser); they are most of COPY's cost.
    if await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        await conn.execute("SET session_replication_role = replica")
    return conn


async def _copy_chunks(url: str, seed: int, chunks: list[tuple[int, int, int]], per_build: int) -> dict:
    conn = await copy_connection(url)
    writer, ids, counts = CopyWriter(conn), {}, Counter()
    try:
        for chunk, first, last in chunks:
            buf = chunk_rows(seed, chunk, first, last, per_build)
            ids[chunk] = [str(b["id"]) for b in buf["builds"]]
            for kind in ORDER:
                await writer.write(kind, buf[kind])
                counts[kind] += len(buf[kind])
    finally:
        await conn.close()
    return {"ids": ids, "counts": dict(counts)}


def copy_worker(url: str, seed: int, chunks: list[tuple[int, int, int]], per_build: int) -> dict:
    """Runs in its own process: generate and COPY the given chunks."""
    return asyncio.run(_copy_chunks(url, seed, chunks, per_build))


async def drop_bulk_indexes(conn: Any) -> list[str]:
    """Drop the secondary indexes of the big tables (returning their exact definitions)."""
    rows = await conn.fetch(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[])
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""",
        list(BULK_TABLES),
    )
    for r in rows:
        await conn.execute(f'DROP INDEX "{r["indexname"]}"')
    return [r["indexdef"] for r in rows]


async def seed(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    await migrate(args.database_url)
    t_migrate = time.perf_counter() - t0
    projects, configs = Gen(args.seed).projects()
    method = args.method
    if method == "auto":
        method = "copy" if args.builds > 5000 else "orm"
    per_flush = max(1, args.flush_builds)
    chunks = [(c, first, min(args.builds, first + per_flush))
              for c, first in enumerate(range(0, args.builds, per_flush))]
    extra: dict[str, list[dict]] = {k: [] for k in ORDER}
    scaling: list[tuple[int, str]] = []
    gen = Gen(args.seed * 7 + 3)
    for j, n in enumerate(args.scaling_artifacts):
        # Extra builds with other artifact counts for the scaling table: same shape otherwise,
        # in project 0 with build numbers past the regular ones.
        rows = gen.build(args.builds + j, n_artifacts=n, project=0, build_number=1_000_000 + j)
        scaling.append((n, str(rows["builds"][0]["id"])))
        for kind, r in rows.items():
            extra[kind].extend(r)
    if args.api_key:
        extra["keys"].append(api_key_row(args.api_key))

    counts: Counter = Counter()
    ids_by_chunk: dict[int, list[str]] = {}
    if method == "orm":
        from tortoise import Tortoise, connections

        await Tortoise.init(config=tortoise_config(args.database_url, pool_min=1, pool_max=2),
                            _enable_global_fallback=True)
        writer = OrmWriter(args.batch)
        try:
            for kind, rows in (("projects", projects), ("configs", configs)):
                await writer.write(kind, rows)
                counts[kind] += len(rows)
            for chunk, first, last in chunks:
                buf = chunk_rows(args.seed, chunk, first, last, args.artifacts_per_build)
                ids_by_chunk[chunk] = [str(b["id"]) for b in buf["builds"]]
                for kind in ORDER:
                    await writer.write(kind, buf[kind])
                    counts[kind] += len(buf[kind])
            for kind in ORDER:
                await writer.write(kind, extra[kind])
                counts[kind] += len(extra[kind])
            # VACUUM too: a freshly loaded row is checked against the commit log (and its page
            # dirtied) the first time it is read, and autovacuum would start on the new rows in
            # the middle of the measurement; rows of a live database have long been vacuumed.
            await connections.get("default").execute_script("VACUUM ANALYZE")
        finally:
            await Tortoise.close_connections()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        conn = await copy_connection(args.database_url)
        try:
            writer_c = CopyWriter(conn)
            for kind, rows in (("projects", projects), ("configs", configs)):
                await writer_c.write(kind, rows)
                counts[kind] += len(rows)
            index_defs = await drop_bulk_indexes(conn)
            jobs = max(1, min(args.jobs, len(chunks)))
            loop = asyncio.get_running_loop()
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = [
                    loop.run_in_executor(pool, copy_worker, args.database_url, args.seed, chunks[w::jobs],
                                         args.artifacts_per_build)
                    for w in range(jobs)
                ]
                for result in await asyncio.gather(*futures):
                    ids_by_chunk.update({int(k): v for k, v in result["ids"].items()})
                    counts.update(result["counts"])
            for kind in ORDER:
                await writer_c.write(kind, extra[kind])
                counts[kind] += len(extra[kind])
            if args.progress:
                print(f"  rows loaded ({time.perf_counter() - t0:.0f}s); rebuilding {len(index_defs)} indexes",
                      file=sys.stderr)
            await conn.execute("SET maintenance_work_mem = '512MB'")
            for ddl in index_defs:
                await conn.execute(ddl)
            await conn.execute("VACUUM ANALYZE")  # as in the ORM path: no first-read hint bits
        finally:
            await conn.close()

    ids = [i for c in sorted(ids_by_chunk) for i in ids_by_chunk[c]]
    Path(args.ids_file).write_text("".join(f"{i}\n" for i in ids))
    if args.scaling_ids_file:
        Path(args.scaling_ids_file).write_text("".join(f"{n}\t{i}\n" for n, i in scaling))
    return {"method": method, "seconds": round(time.perf_counter() - t0, 1),
            "migrate_seconds": round(t_migrate, 1), "rows": {k: counts[k] for k in ORDER},
            "sensitive_encrypted": _encrypt is not None}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", required=True, help="postgres://user@host:port/db (empty database)")
    ap.add_argument("--builds", type=int, default=1000)
    ap.add_argument("--ids-file", required=True, help="written: one build id per line")
    ap.add_argument("--api-key", help="create a read+write API key with exactly this value")
    ap.add_argument("--artifacts-per-build", type=int, default=50)
    ap.add_argument("--scaling-artifacts", default="",
                    help="comma-separated artifact counts of extra builds (e.g. 10,50,500,1000)")
    ap.add_argument("--scaling-ids-file", help="written: '<artifact count>\\t<build id>' per line")
    ap.add_argument("--method", choices=["auto", "orm", "copy"], default="auto",
                    help="orm = Tortoise bulk_create; copy = COPY (auto: copy above 5,000 builds)")
    ap.add_argument("--batch", type=int, default=5000, help="rows per bulk_create")
    ap.add_argument("--flush-builds", type=int, default=500, help="builds generated per write")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--jobs", type=int, default=2, help="COPY worker processes")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    args.scaling_artifacts = [int(x) for x in args.scaling_artifacts.split(",") if x.strip()]
    if args.scaling_artifacts and not args.scaling_ids_file:
        ap.error("--scaling-artifacts needs --scaling-ids-file")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        import uvloop

        result = uvloop.run(seed(args))
    except ImportError:  # pragma: no cover
        result = asyncio.run(seed(args))
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
