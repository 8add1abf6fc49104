"""PostgreSQL restarted in the middle of a mixed load: nothing acknowledged is lost.

    .venv/bin/python scripts/fault_pg_restart.py [--seconds 60] [--restart-at 20] [--writers 16]

Not part of the test suite: it restarts the machine's PostgreSQL cluster (loopback only).
A fresh database is created on 127.0.0.1:5432, two API processes and one orchestrator and one
webhook sender are started on it (scripts/run_cluster.py), and writers keep a ledger of every
write the API acknowledged (artifacts, variables, state moves, builds; 503s are retried with
the same Idempotency-Key, as a client should). In the middle, PostgreSQL is restarted with
`pg_ctlcluster --skip-systemctl-redirect <version> main restart`. Afterwards every ledger entry
must be in the database exactly once, every failed answer must be a 503, and the API processes
and the webhook sender must serve again within seconds. Prints the figures; exit 1 on a loss.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.run_cluster import start_cluster, stop_cluster  # noqa: E402

ADMIN_DSN = os.environ.get("BUILDSTATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
WRITE_KEY, ADMIN_KEY = "dev-key-12345", "admin-key-99999"


class Ledger:
    def __init__(self) -> None:
        self.acked: list[tuple[str, dict]] = []
        self.failures: collections.Counter = collections.Counter()
        self.retries = 0
        self.ambiguous: list[tuple[str, dict]] = []
        self.latencies: list[float] = []
        self.error_times: list[float] = []


async def write(http: httpx.AsyncClient, ledger: Ledger, kind: str, path: str, body: dict,
                record: dict) -> dict | None:
    """POST with an Idempotency-Key; 503s are retried (same key) until acknowledged."""
    key = uuid.uuid4().hex
    for attempt in range(60):
        started = time.monotonic()
        try:
            answer = await http.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError as exc:
            ledger.failures[f"transport:{type(exc).__name__}"] += 1
            ledger.error_times.append(time.monotonic())
            await asyncio.sleep(0.5)
            ledger.retries += 1
            continue
        ledger.latencies.append(time.monotonic() - started)
        if answer.status_code < 300:
            data = answer.json()
            ledger.acked.append((kind, {**record, "answer": data}))
            return data
        if answer.status_code == 409 and "still in progress" in answer.text:
            ledger.failures["409-key-in-progress(retried)"] += 1
            ledger.retries += 1
            await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
            continue
        if answer.status_code == 409 and attempt > 0 and kind == "artifact":
            # The first try's COMMIT was cut by the restart yet applied (answered 503, so its
            # key was released); the retry finds the artifact. Verified present below.
            ledger.ambiguous.append((kind, record))
            return None
        ledger.failures[str(answer.status_code)] += 1
        ledger.error_times.append(time.monotonic())
        if answer.status_code != 503:
            return None
        ledger.retries += 1
        await asyncio.sleep(float(answer.headers.get("retry-after", "1")) * random.uniform(0.3, 1))
    return None


async def writer(base: str, project: str, builds: list[str], stop_at: float, ledger: Ledger) -> None:
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": WRITE_KEY},
                                 timeout=30) as http:
        while time.monotonic() < stop_at:
            build = random.choice(builds)
            token = uuid.uuid4().hex[:12]
            op = random.random()
            if op < 0.35:
                await write(http, ledger, "artifact", f"/builds/{build}/artifacts", {
                    "state_code": 10, "artifact_name": f"a-{token}", "artifact_type": "disk_image",
                    "artifact_path": f"s3://fault/{token}"}, {"build": build, "name": f"a-{token}"})
            elif op < 0.7:
                await write(http, ledger, "variable", f"/builds/{build}/variables", {
                    "variable_key": f"k_{token}", "variable_value": token},
                    {"build": build, "key": f"k_{token}", "value": token})
            elif op < 0.9:
                await write(http, ledger, "state", f"/builds/{build}/state", {
                    "state_code": random.randint(1, 90), "status": "in_progress",
                    "message": f"m-{token}"}, {"build": build, "message": f"m-{token}"})
            else:
                data = await write(http, ledger, "build", "/builds", {
                    "project_id": project, "build_number": random.randint(1000, 2**31 - 2)}, {})
                if data:
                    builds.append(data["id"])


async def reader(base: str, builds: list[str], stop_at: float, ledger: Ledger) -> None:
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": WRITE_KEY},
                                 timeout=30) as http:
        while time.monotonic() < stop_at:
            try:
                answer = await http.get(f"/builds/{random.choice(builds)}/resume-context")
                if answer.status_code >= 300:
                    ledger.failures[f"read:{answer.status_code}"] += 1
                    ledger.error_times.append(time.monotonic())
                    await asyncio.sleep(0.2)
            except httpx.TransportError as exc:
                ledger.failures[f"read-transport:{type(exc).__name__}"] += 1
                await asyncio.sleep(0.2)


async def receiver(deliveries: list[float]) -> asyncio.AbstractServer:
    """A webhook endpoint on 127.0.0.1 that counts deliveries."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            deliveries.append(time.monotonic())
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def restart_postgres() -> float:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    started = time.monotonic()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, capture_output=True)
    return time.monotonic() - started


async def first_success(base: str, since: float, path: str = "/ready") -> float | None:
    async with httpx.AsyncClient(base_url=base, timeout=2) as http:
        while time.monotonic() - since < 60:
            try:
                if (await http.get(path)).status_code == 200:
                    return time.monotonic() - since
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    return None


async def verify(dsn: str, ledger: Ledger) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    missing = duplicated = 0
    try:
        for kind, entry in ledger.acked + ledger.ambiguous:
            if kind == "artifact":
                n = await conn.fetchval("SELECT count(*) FROM build_artifacts WHERE build_id=$1 "
                                        "AND artifact_name=$2", uuid.UUID(entry["build"]), entry["name"])
            elif kind == "variable":
                n = await conn.fetchval("SELECT count(*) FROM build_variables WHERE build_id=$1 "
                                        "AND variable_key=$2 AND variable_value=$3",
                                        uuid.UUID(entry["build"]), entry["key"], entry["value"])
            elif kind == "state":
                n = await conn.fetchval("SELECT count(*) FROM build_states WHERE build_id=$1 "
                                        "AND message=$2", uuid.UUID(entry["build"]), entry["message"])
            else:
                n = await conn.fetchval("SELECT count(*) FROM builds WHERE id=$1",
                                        uuid.UUID(entry["answer"]["id"]))
            missing += n == 0
            duplicated += n > 1
    finally:
        await conn.close()
    return {"missing": missing, "duplicated": duplicated}


async def main_async(args: argparse.Namespace) -> int:
    name = f"bs_fault_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    port = args.port
    deliveries: list[float] = []
    server = await receiver(deliveries)
    hook_port = server.sockets[0].getsockname()[1]
    log_dir = Path(args.log_dir)
    procs = start_cluster(api=2, workers=1, port=port, log_dir=log_dir, env={
        "BUILDSTATE_DATABASE_URL": dsn, "BUILDSTATE_LOG_LEVEL": "WARNING",
        "BUILDSTATE_WEBHOOK_IDLE_SECONDS": "0.2", "BUILDSTATE_RATE_LIMIT_ENABLED": "false",
    })
    bases = [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"]
    try:
        for base in bases:
            if await first_success(base, time.monotonic()) is None:
                raise SystemExit(f"{base} did not start")
        async with httpx.AsyncClient(base_url=bases[0], headers={"X-API-Key": ADMIN_KEY}) as http:
            project = f"fault-{uuid.uuid4().hex[:6]}"
            (await http.post("/projects", json={"id": project, "name": project})).raise_for_status()
            builds = []
            for n in range(20):
                r = await http.post("/builds", json={"project_id": project, "build_number": n + 1})
                builds.append(r.raise_for_status().json()["id"])
            (await http.post("/webhook-subscriptions", json={
                "name": "fault-receiver", "url": f"http://127.0.0.1:{hook_port}/hook",
                "events": ["artifact.registered"]})).raise_for_status()

        ledger = Ledger()
        t0 = time.monotonic()
        stop_at = t0 + args.seconds
        tasks = [asyncio.create_task(writer(bases[i % 2], project, builds, stop_at, ledger))
                 for i in range(args.writers)]
        tasks += [asyncio.create_task(reader(bases[i % 2], builds, stop_at, ledger))
                  for i in range(4)]
        await asyncio.sleep(args.restart_at)
        acked_before = len(ledger.acked)
        restart_started = time.monotonic()
        restart_seconds = await asyncio.to_thread(restart_postgres)
        restarted = time.monotonic()
        recoveries = await asyncio.gather(*(first_success(b, restarted, "/ready") for b in bases))
        writes_back = None
        while writes_back is None and time.monotonic() - restarted < 60:
            if len(ledger.acked) > acked_before + 5 and ledger.acked[-1]:
                writes_back = time.monotonic() - restarted
            await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)
        await asyncio.sleep(3)  # let the webhook sender drain
        after = [d for d in deliveries if d > restarted]
        checks = await verify(dsn.replace("postgres://", "postgresql://", 1), ledger)
        outage_errors = [t for t in ledger.error_times]
        kinds = collections.Counter(kind for kind, _ in ledger.acked)
        lat = sorted(ledger.latencies)
        figures = {
            "duration_s": round(time.monotonic() - t0, 1),
            "acknowledged_writes": len(ledger.acked), "by_kind": dict(kinds),
            "verified_missing": checks["missing"], "verified_duplicated": checks["duplicated"],
            "failed_answers_by_status": dict(ledger.failures), "retries_after_503": ledger.retries,
            "ambiguous_commits_found_applied_on_retry": len(ledger.ambiguous),
            "errors_window_s": round(max(outage_errors) - min(outage_errors), 2)
            if outage_errors else 0,
            "errors_started_after_restart_began_s": round(min(outage_errors) - restart_started, 2)
            if outage_errors else None,
            "pg_restart_command_s": round(restart_seconds, 2),
            "api_ready_after_restart_s": [None if r is None else round(r, 2) for r in recoveries],
            "writes_acknowledged_again_after_s": None if writes_back is None else round(writes_back, 2),
            "webhook_deliveries_total": len(deliveries),
            "webhook_deliveries_after_restart": len(after),
            "webhook_sender_back_after_s": round(min(after) - restarted, 2) if after else None,
            "latency_p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "latency_p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 1) if lat else None,
        }
        print(json.dumps(figures, indent=2))
        non_503 = {k: v for k, v in ledger.failures.items()
                   if k not in ("503", "read:503", "409-key-in-progress(retried)")}
        ok = (checks["missing"] == 0 and checks["duplicated"] == 0 and not non_503
              and all(r is not None and r < 15 for r in recoveries) and bool(after))
        print("RESULT:", "OK" if ok else f"FAILED (non-503 failures: {non_503})")
        return 0 if ok else 1
    finally:
        stop_cluster(procs)
        server.close()
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--restart-at", type=float, default=20)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--port", type=int, default=18600)
    parser.add_argument("--log-dir", default="/tmp/buildstate-fault-logs",
                        help="where the processes' logs go")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
