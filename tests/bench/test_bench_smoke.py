"""Smoke test of the benchmark: `scripts/bench.py --short` runs end to end and prints its table.

It needs a PostgreSQL server it may create databases on, so it runs in the PostgreSQL half of
the suite (BUILDSTATE_TEST_BACKEND=postgres); elsewhere it is skipped with the reason. In CI
(CI=true) an unreachable PostgreSQL is a failure, as in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_problem() -> str | None:
    async def probe() -> str | None:
        try:
            conn = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1) + "/postgres", timeout=3)
        except (OSError, asyncpg.PostgresError) as exc:
            return f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}: {exc}"
        try:
            if not await conn.fetchval("SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"):
                return "the PostgreSQL role cannot create databases"
        finally:
            await conn.close()
        return None

    return asyncio.run(probe())


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    if os.environ.get("BUILDSTATE_TEST_BACKEND", "sqlite") != "postgres":
        pytest.skip("the benchmark smoke test runs in the PostgreSQL half (BUILDSTATE_TEST_BACKEND=postgres)")
    problem = _pg_problem()
    if problem:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--short", "--pg", PG_URL, "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"bench.py failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc, json.loads(out.read_text())


def test_prints_the_table(bench_run) -> None:
    proc, _ = bench_run
    assert "| target" in proc.stdout and "req/s" in proc.stdout and "SQL/req" in proc.stdout
    assert "| floor   | REST read" in proc.stdout
    assert "| floor   | REST write" in proc.stdout
    assert "## Read latency by answer and data size" in proc.stdout


def test_floor_answers_without_errors(bench_run) -> None:
    _, report = bench_run
    floor = {row["workload"]: row for row in report["table"] if row["target"] == "floor"}
    assert set(floor) == {"rest_read", "rest_write"}
    for workload, row in floor.items():
        assert row["requests"] > 0, workload
        assert row["errors"] == 0, (workload, row["error_samples"])
        # One SQL statement per request, by PostgreSQL's own statement log (n/a if unreadable).
        sql = row["sql_per_request"]
        assert sql is None or 1.0 <= sql <= 1.5, (workload, sql)  # + an occasional API-key lookup


def test_database_dropped(bench_run) -> None:
    _, report = bench_run

    async def exists() -> bool:
        conn = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1) + "/postgres")
        try:
            return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", report["db"]))
        finally:
            await conn.close()

    assert not asyncio.run(exists())
