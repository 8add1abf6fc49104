"""Helpers for the hardening tier: apps built with chosen settings, on the session database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.settings import Settings
from tests.conftest import WRITE_KEY


@asynccontextmanager
async def serve(settings: Settings, *, key: str | None = WRITE_KEY,
                client: tuple[str, int] = ("127.0.0.1", 50000)) -> AsyncIterator[httpx.AsyncClient]:
    """The whole application with `settings` over ASGI; the ORM is the test session's."""
    from app.main import create_app

    app = create_app(settings, manage_db=False)
    headers = {"X-API-Key": key} if key else {}
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                     headers=headers, timeout=60) as http:
            yield http


@pytest.fixture
def app_with(database: Settings) -> Callable[..., object]:
    """`async with app_with(rate_limit_burst=50) as http:` — the app with changed settings."""

    def make(*, key: str | None = WRITE_KEY, **changes):
        return serve(database.model_copy(update=changes), key=key)

    return make


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def uvicorn_server(env: dict[str, str], *, ready_path: str = "/health"):
    """A real server process on 127.0.0.1 (yields (base_url, process)); SIGTERM on exit."""
    import asyncio
    import os
    import sys

    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning",
        env={"BUILDSTATE_LOG_LEVEL": "WARNING", **os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2) as probe:
            for _ in range(300):
                if proc.returncode is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}")
                try:
                    if (await probe.get(ready_path)).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("server did not start")
        yield base, proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def server_env(settings: Settings, **extra: object) -> dict[str, str]:
    env = {"BUILDSTATE_DATABASE_URL": settings.database_url, "BUILDSTATE_ORCHESTRATOR": "off"}
    env.update({f"BUILDSTATE_{k.upper()}": str(v) for k, v in extra.items()})
    return env
