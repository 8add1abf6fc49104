"""Bounded load against two API processes on one PostgreSQL (loopback only).

    .venv/bin/python scripts/load_cluster.py [--seconds 180] [--clients 32] [--rate 300]

Not part of the test suite. A fresh database on 127.0.0.1:5432, two API processes and the
workers (scripts/run_cluster.py); clients alternate between the two ports with a mixed load
(resume-context reads, GraphQL reads, artifact and variable writes, state moves) at a bounded
total rate. Prints, per minute and overall: requests, error rate, p50/p95/p99 latency and the
API processes' resident memory (it should level off, not climb). Exit 1 when the error rate is
above 1 % or memory grew by more than 50 % between the first and the last minute.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.run_cluster import start_cluster, stop_cluster  # noqa: E402

ADMIN_DSN = os.environ.get("BUILDSTATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
KEY = "dev-key-12345"
GQL = ("query($id: ID!){ build(id: $id){ status resumeContext { resumeFromState canResume "
       "artifacts { artifactName } variables { key value } } } }")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def client(base: str, builds: list[str], stop_at: float, tokens: asyncio.Queue,
                 samples: list[tuple[float, float, int]]) -> None:
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": KEY}, timeout=30) as http:
        while time.monotonic() < stop_at:
            await tokens.get()
            build = random.choice(builds)
            token = uuid.uuid4().hex[:10]
            op = random.random()
            started = time.monotonic()
            try:
                if op < 0.45:
                    r = await http.get(f"/builds/{build}/resume-context")
                elif op < 0.65:
                    r = await http.post("/graphql", json={"query": GQL, "variables": {"id": build}})
                elif op < 0.8:
                    r = await http.post(f"/builds/{build}/artifacts", json={
                        "state_code": 10, "artifact_name": f"l-{token}", "artifact_type": "ami",
                        "artifact_path": f"s3://load/{token}"})
                elif op < 0.95:
                    r = await http.post(f"/builds/{build}/variables", json={
                        "variable_key": f"v_{random.randint(1, 50)}", "variable_value": token})
                else:
                    r = await http.post(f"/builds/{build}/state", json={
                        "state_code": random.randint(1, 90), "status": "in_progress"})
                status = r.status_code
            except httpx.TransportError:
                status = 0
            samples.append((started, time.monotonic() - started, status))


async def pacer(tokens: asyncio.Queue, rate: float, stop_at: float) -> None:
    interval = 1.0 / rate
    next_at = time.monotonic()
    while next_at < stop_at:
        tokens.put_nowait(None)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def main_async(args: argparse.Namespace) -> int:
    name = f"bs_load_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    procs = start_cluster(api=2, workers=1, port=args.port, quiet=True, env={
        "BUILDSTATE_DATABASE_URL": dsn, "BUILDSTATE_LOG_LEVEL": "WARNING",
        # One demo key drives all the load: its per-process bucket is not what is measured.
        "BUILDSTATE_RATE_LIMIT_ENABLED": "false",
    })
    bases = [f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port + 1}"]
    api_pids = [p.pid for p in procs[:2]]
    try:
        async with httpx.AsyncClient(timeout=2) as probe:
            for base in bases:
                for _ in range(200):
                    try:
                        if (await probe.get(f"{base}/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
        async with httpx.AsyncClient(base_url=bases[0], headers={"X-API-Key": KEY}) as http:
            project = f"load-{uuid.uuid4().hex[:6]}"
            (await http.post("/projects", json={"id": project, "name": project})).raise_for_status()
            builds = [(await http.post("/builds", json={"project_id": project, "build_number": n}))
                      .raise_for_status().json()["id"] for n in range(1, 51)]
        samples: list[tuple[float, float, int]] = []
        tokens: asyncio.Queue = asyncio.Queue()
        t0 = time.monotonic()
        stop_at = t0 + args.seconds
        tasks = [asyncio.create_task(pacer(tokens, args.rate, stop_at))]
        tasks += [asyncio.create_task(client(bases[i % 2], builds, stop_at, tokens, samples))
                  for i in range(args.clients)]
        memory: list[list[float]] = []
        while time.monotonic() < stop_at:
            await asyncio.sleep(min(60, max(0.1, stop_at - time.monotonic())))
            memory.append([round(rss_mib(pid), 1) for pid in api_pids])
            minute = [s for s in samples if s[0] >= time.monotonic() - 60]
            errors = sum(1 for s in minute if s[2] == 0 or s[2] >= 500)
            print(json.dumps({
                "t_s": round(time.monotonic() - t0), "requests_last_60s": len(minute),
                "errors": errors, "p95_ms": round(percentile([s[1] for s in minute], 0.95), 1),
                "rss_mib": memory[-1]}), flush=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        statuses = collections.Counter(s[2] for s in samples)
        errors = sum(n for code, n in statuses.items() if code == 0 or code >= 500)
        latencies = [s[1] for s in samples]
        growth = (sum(memory[-1]) / sum(memory[0]) - 1) if len(memory) > 1 else 0.0
        summary = {
            "seconds": args.seconds, "api_processes": 2, "requests": len(samples),
            "throughput_rps": round(len(samples) / args.seconds, 1),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "error_rate": round(errors / max(1, len(samples)), 5),
            "p50_ms": round(percentile(latencies, 0.5), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "rss_mib_first_minute": memory[0] if memory else None,
            "rss_mib_last": memory[-1] if memory else None,
            "rss_growth": round(growth, 3),
        }
        print(json.dumps(summary, indent=2))
        ok = summary["error_rate"] <= 0.01 and growth <= 0.5
        print("RESULT:", "OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        stop_cluster(procs)
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rate", type=float, default=300, help="requests per second, in total")
    parser.add_argument("--port", type=int, default=18700)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
