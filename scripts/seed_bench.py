"""Seed a PostgreSQL database with the benchmark workload of issue 6.

    python scripts/seed_bench.py --database-url URL --builds N --ids-file FILE [--api-key KEY]
                                 [--artifacts-per-build 50] [--scaling-artifacts 10,50,500,1000
                                 --scaling-ids-file FILE] [--method auto|orm|copy]

Shape (so figures compare with the issue's): 10 projects, each with 10 resumable-state configs
(codes 10..100); N builds spread over them; per build 20 state entries (codes 5, 10 .. 100, all
completed except the last, which is completed, failed or in_progress in turn), 50 artifacts (30
resumable, 2 of those soft-deleted, so a resume context returns 28) and 30 variables (6 sensitive).

Rows are built once as plain column dicts, then written either through the project's Tortoise
models (`bulk_create` in large batches, the default up to 5,000 builds) or, for the 100,000-build
scaling database, with PostgreSQL COPY on the tables and columns the same models declare (same
values, ~10x faster). Everything is deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sys
import time
import uuid
from collections.abc import Iterator
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
                key, value = SECRET_VARIABLES[v - (VARIABLES - SENSITIVE)], encrypt(f"s3cr3t-{self.hex(32)}")
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


def iter_builds(gen: Gen, n: int, per_build: int) -> Iterator[dict[str, list[dict]]]:
    for i in range(n):
        yield gen.build(i, n_artifacts=per_build)


async def seed(args: argparse.Namespace) -> dict[str, Any]:
    from tortoise import Tortoise

    t0 = time.perf_counter()
    await migrate(args.database_url)
    t_migrate = time.perf_counter() - t0
    gen = Gen(args.seed)
    projects, configs = gen.projects()
    method = args.method
    if method == "auto":
        method = "copy" if args.builds > 5000 else "orm"

    conn = None
    if method == "orm":
        await Tortoise.init(config=tortoise_config(args.database_url, pool_min=1, pool_max=2),
                            _enable_global_fallback=True)
        writer: OrmWriter | CopyWriter = OrmWriter(args.batch)
    else:
        import asyncpg

        conn = await asyncpg.connect(args.database_url.replace("postgres://", "postgresql://", 1))
        await conn.execute("SET synchronous_commit = off")
        writer = CopyWriter(conn)

    ids: list[str] = []
    scaling: list[tuple[int, str]] = []
    counts = dict.fromkeys(ORDER, 0)

    async def flush(buf: dict[str, list[dict]]) -> None:
        for kind in ORDER:
            rows = buf.get(kind)
            if rows:
                await writer.write(kind, rows)
                counts[kind] += len(rows)
                rows.clear()

    try:
        await flush({"projects": projects, "configs": configs})
        buf: dict[str, list[dict]] = {k: [] for k in ORDER}
        per_flush = max(1, args.flush_builds)
        for i, rows in enumerate(iter_builds(gen, args.builds, args.artifacts_per_build), 1):
            ids.append(str(rows["builds"][0]["id"]))
            for kind, r in rows.items():
                buf[kind].extend(r)
            if i % per_flush == 0:
                await flush(buf)
                if args.progress and i % (per_flush * 10) == 0:
                    print(f"  {i}/{args.builds} builds ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
        for j, n in enumerate(args.scaling_artifacts):
            # Extra builds with other artifact counts for the scaling table: same shape otherwise,
            # in project 0 with build numbers past the regular ones.
            rows = gen.build(args.builds + j, n_artifacts=n, project=0,
                             build_number=1_000_000 + j)
            scaling.append((n, str(rows["builds"][0]["id"])))
            for kind, r in rows.items():
                buf[kind].extend(r)
        if args.api_key:
            buf["keys"].append(api_key_row(args.api_key))
        await flush(buf)
    finally:
        if conn is not None:
            await conn.execute("ANALYZE")
            await conn.close()
        else:
            from tortoise import connections

            await connections.get("default").execute_script("ANALYZE")
            await Tortoise.close_connections()

    Path(args.ids_file).write_text("".join(f"{i}\n" for i in ids))
    if args.scaling_ids_file:
        Path(args.scaling_ids_file).write_text("".join(f"{n}\t{i}\n" for n, i in scaling))
    return {"method": method, "seconds": round(time.perf_counter() - t0, 1),
            "migrate_seconds": round(t_migrate, 1), "rows": counts,
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
