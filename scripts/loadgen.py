"""Closed-loop HTTP/1.1 load generator for the benchmark (pure Python, asyncio + uvloop).

Each connection is a keep-alive socket that sends one request, reads the whole answer, records
the latency and sends the next (closed loop). A hand-written client rather than httpx: httpx
costs ~10x more CPU per request, and on a 2-core machine the generator would measure itself.

Run as a separate process by scripts/bench.py:
    python scripts/loadgen.py < spec.json > result.json
spec: {host, port, connections, start (epoch s), warmup_until, end, workload, ids, api_key, tag}
result: {latencies_us: [...], count, errors, error_samples, bytes, cpu_seconds, sql_header}
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import sys
import time
from typing import Any

import orjson

GQL_READ = (
    "query($id: ID!){ build(id:$id){ resumeContext { buildId currentState lastSuccessfulState "
    "failedState resumeFromState canResume blockers missingArtifacts missingVariables artifacts { "
    "id artifactName artifactType stateCode artifactPath storageBackend storageRegion storageBucket "
    "storageKey sizeBytes checksum checksumAlgorithm isResumable isFinal expiresAt metadata "
    "createdAt updatedAt } variables { key value } resumableStateConfig { stateCode isResumable "
    "resumeStrategy requiredArtifacts requiredVariables resumeCommand resumeTimeoutSeconds } } } }"
)
GQL_WRITE = (
    "mutation($b: ID!, $i: RegisterArtifactInput!){ registerArtifact(buildId:$b, input:$i){ "
    "__typename ... on Artifact { id } ... on Error { code message } } }"
)
WRITE_PREFIX = "bench-w-"


def artifact_body(name: str) -> dict[str, Any]:
    """The seed document's artifact registration body, with a unique name."""
    return {
        "state_code": 20,
        "artifact_name": name,
        "artifact_type": "vm_snapshot",
        "artifact_path": f"s3://my-bucket/snapshots/{name}.vmdk",
        "storage_backend": "s3",
        "storage_region": "us-east-1",
        "storage_bucket": "my-bucket",
        "storage_key": f"snapshots/{name}.vmdk",
        "is_resumable": True,
        "metadata": {"vm_id": "i-abc123", "snapshot_id": "snap-xyz789"},
    }


def gql_input(name: str) -> dict[str, Any]:
    b = artifact_body(name)
    return {"stateCode": b["state_code"], "artifactName": name, "artifactType": b["artifact_type"],
            "artifactPath": b["artifact_path"], "storageBackend": b["storage_backend"],
            "isResumable": True, "metadata": b["metadata"]}


class Workload:
    """Builds request bytes and judges answers for one of the four workloads."""

    def __init__(self, kind: str, ids: list[str], host: str, port: int, api_key: str, tag: str):
        self.kind, self.ids, self.tag = kind, ids, tag
        self.head = f"Host: {host}:{port}\r\nX-API-Key: {api_key}\r\nConnection: keep-alive\r\n"
        self.counter = 0
        if kind == "rest_read":
            self.cached = [
                f"GET /builds/{i}/resume-context HTTP/1.1\r\n{self.head}\r\n".encode() for i in ids
            ]
        elif kind == "gql_read":
            self.cached = [self._post("/graphql", {"query": GQL_READ, "variables": {"id": i}}) for i in ids]
        self.expect = 201 if kind == "rest_write" else 200

    def _post(self, path: str, body: Any) -> bytes:
        data = orjson.dumps(body)
        return (
            f"POST {path} HTTP/1.1\r\n{self.head}Content-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode() + data

    def next(self, rnd: random.Random) -> bytes:
        if self.kind in ("rest_read", "gql_read"):
            return self.cached[rnd.randrange(len(self.cached))]
        self.counter += 1
        name = f"{WRITE_PREFIX}{self.tag}-{self.counter}"
        build = self.ids[rnd.randrange(len(self.ids))]
        if self.kind == "rest_write":
            return self._post(f"/builds/{build}/artifacts", artifact_body(name))
        return self._post("/graphql", {"query": GQL_WRITE, "variables": {"b": build, "i": gql_input(name)}})

    def ok(self, status: int, body: bytes) -> bool:
        if status != self.expect:
            return False
        if self.kind == "gql_read":
            return b'"errors"' not in body and b'"resumeContext"' in body
        if self.kind == "gql_write":
            return b'"errors"' not in body and b'"Artifact"' in body
        return True


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(b":")
            headers[k.strip().lower()] = v.strip()
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = await reader.read()
    return status, headers, body


async def connect(host: str, port: int, out: dict, warm: float, end: float):
    """Open a connection; a refused one counts as an error (in the window) and is retried."""
    while True:
        try:
            return await asyncio.open_connection(host, port)
        except OSError as exc:
            now = time.time()
            if now >= end:
                raise
            if now >= warm:
                out["errors"] += 1
                if len(out["error_samples"]) < 3:
                    out["error_samples"].append(f"connect: {exc!r}")
            await asyncio.sleep(0.05)


async def connection(spec: dict, wl: Workload, out: dict, seed: int) -> None:
    rnd = random.Random(seed)
    host, port = spec["host"], spec["port"]
    warm, end = spec["warmup_until"], spec["end"]
    lat = out["latencies_us"]
    try:
        reader, writer = await connect(host, port, out, warm, end)
    except OSError:
        return
    try:
        while True:
            now = time.time()
            if now >= end:
                break
            req = wl.next(rnd)
            t0 = time.perf_counter()
            writer.write(req)
            try:
                status, headers, body = await read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                status, headers, body = 0, {}, repr(exc).encode()
            t1 = time.perf_counter()
            if now < warm or time.time() > end:
                if status == 0:
                    writer.close()
                    reader, writer = await connect(host, port, out, warm, end)
                continue
            lat.append(int((t1 - t0) * 1e6))
            out["bytes"] += len(body)
            sql = headers.get(b"x-sql-statements")
            if sql is not None:
                out["sql_header"].append(int(sql))
            if not wl.ok(status, body):
                out["errors"] += 1
                if len(out["error_samples"]) < 3:
                    out["error_samples"].append(f"{status}: {body[:300].decode(errors='replace')}")
            if status == 0 or headers.get(b"connection", b"").lower() == b"close":
                writer.close()
                reader, writer = await connect(host, port, out, warm, end)
    except OSError:
        return
    finally:
        writer.close()


async def run(spec: dict) -> dict:
    wl = Workload(spec["workload"], spec["ids"], spec["host"], spec["port"], spec["api_key"], spec["tag"])
    out: dict[str, Any] = {"latencies_us": [], "errors": 0, "error_samples": [], "bytes": 0, "sql_header": []}
    delay = spec["start"] - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    tasks = [asyncio.create_task(connection(spec, wl, out, spec.get("seed", 0) * 1000 + c))
             for c in range(spec["connections"])]
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, spec["end"] - time.time()) + 10)
    for task in pending:  # a request still unanswered 10 s after the window: an error
        task.cancel()
        out["errors"] += 1
        if len(out["error_samples"]) < 3:
            out["error_samples"].append("no answer within 10 s after the measured window")
    if pending:
        await asyncio.wait(pending)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_seconds"] = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    out["wall_seconds"] = time.time() - max(spec["start"], 0)
    out["count"] = len(out["latencies_us"])
    return out


def main() -> None:
    spec = orjson.loads(sys.stdin.buffer.read())
    try:
        import uvloop

        result = uvloop.run(run(spec))
    except ImportError:  # pragma: no cover
        result = asyncio.run(run(spec))
    # The event loop may leave stdout non-blocking: a result larger than the pipe (64 KiB: every
    # latency and X-SQL-Statements value of a segment) would then be cut short. Write it whole.
    data = orjson.dumps(result)
    fd = sys.stdout.fileno()
    os.set_blocking(fd, True)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


if __name__ == "__main__":
    main()
