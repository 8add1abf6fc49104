"""Real service processes for the tests: uvicorn subprocesses on 127.0.0.1, one database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    port: int
    process: asyncio.subprocess.Process
    log: Path

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def pid(self) -> int:
        return self.process.pid


async def start(
    database_url: str, log_dir: Path, *, env: dict[str, str] | None = None, workers: int | None = None,
    name: str = "server",
) -> Server:
    """Start `uvicorn app.main:app` on a free port; returns once the database answers through it."""
    port = free_port()
    log = log_dir / f"{name}-{port}.log"
    full_env = {
        **os.environ,
        "BUILDSTATE_DATABASE_URL": database_url,
        "BUILDSTATE_CLEANUP_INTERVAL_SECONDS": "0",
        "BUILDSTATE_ORCHESTRATOR": "off",
        "BUILDSTATE_LOG_LEVEL": "WARNING",
        "BUILDSTATE_DB_POOL_MAX": "5",
        **(env or {}),
    }
    args = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log"]
    if workers:
        args += ["--workers", str(workers)]
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *args, cwd=ROOT, env=full_env, stdout=sink, stderr=asyncio.subprocess.STDOUT,
        )
    server = Server(url=f"http://127.0.0.1:{port}", port=port, process=process, log=log)
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(600):
            if process.returncode is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{server.url}/ready")).status_code == 200:
                    return server
            await asyncio.sleep(0.1)
    await stop(server)
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


async def stop(server: Server) -> None:
    """SIGTERM, then SIGKILL after 15 s."""
    process = server.process
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def serve(database_url: str, log_dir: Path, **options) -> AsyncIterator[Server]:
    server = await start(database_url, log_dir, **options)
    try:
        yield server
    finally:
        await stop(server)


class GraphQLSocket:
    """A minimal graphql-transport-ws client (the protocol the dashboard speaks too)."""

    def __init__(self, ws) -> None:
        self.ws = ws

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, url: str, payload: dict | None) -> AsyncIterator[GraphQLSocket]:
        from websockets.asyncio.client import connect

        async with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:
            sock = cls(ws)
            await sock.send({"type": "connection_init", "payload": payload or {}})
            yield sock

    async def send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, timeout: float = 15.0) -> dict:
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def subscribe(self, op_id: str, query: str, variables: dict | None = None) -> None:
        await self.send({"id": op_id, "type": "subscribe",
                         "payload": {"query": query, "variables": variables or {}}})
