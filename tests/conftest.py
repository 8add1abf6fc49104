"""Real databases for every test: a fresh SQLite file or a fresh PostgreSQL database.

`make test` runs the whole suite twice, in two pytest processes: BUILDSTATE_TEST_BACKEND=sqlite
and =postgres (Tortoise caches dialect-specific SQL per process, so one process holds one
backend). PostgreSQL is required when CI=true and skipped with a visible reason otherwise.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from tortoise import Tortoise

from app.database import close_db, init_db
from app.services.actor import Actor, expand_scopes
from app.services.keys import ensure_demo_keys, key_cache
from app.settings import Settings

PG_ADMIN_DSN = os.environ.get("BUILDSTATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
# The periodic artifact cleanup (on by default in the API and worker processes) would retire
# other tests' expired artifacts in the shared database: the test session's Settings and the
# processes tests start inherit "off" unless a test turns it on.
os.environ.setdefault("BUILDSTATE_CLEANUP_INTERVAL_SECONDS", "0")

READ_KEY, WRITE_KEY, ADMIN_KEY = "dev-key-12345", "dev-key-12345", "admin-key-99999"


async def _pg_available() -> str | None:
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


BACKEND = os.environ.get("BUILDSTATE_TEST_BACKEND", "sqlite")


@pytest.fixture(scope="session")
async def database(tmp_path_factory) -> AsyncIterator[Settings]:
    """Migrate a brand-new database, start the ORM on it, yield its settings."""
    if BACKEND not in ("sqlite", "postgres"):
        pytest.fail(f"BUILDSTATE_TEST_BACKEND must be sqlite or postgres, not {BACKEND!r}")
    if BACKEND == "sqlite":
        path = tmp_path_factory.mktemp("db") / "buildstate.db"
        url = f"sqlite://{path}"
        dropper = None
    else:
        problem = await _pg_available()
        if problem:
            if IN_CI:
                pytest.fail(f"PostgreSQL is required in CI and is not reachable: {problem}")
            pytest.skip(f"PostgreSQL half skipped: not reachable at {PG_ADMIN_DSN} ({problem})")
        name = f"bs_test_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        base = PG_ADMIN_DSN.rsplit("/", 1)[0]
        url = f"{base}/{name}"

        async def dropper() -> None:
            conn = await asyncpg.connect(PG_ADMIN_DSN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()

    # Migrations run in their own process, as `make run` does: aerich keeps class-level state.
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "db.migrate", url)
    assert await proc.wait() == 0, "migrations failed"
    settings = Settings(database_url=url, db_pool_max=10)
    await init_db(settings)
    await ensure_demo_keys(settings)
    try:
        yield settings
    finally:
        await close_db()
        if dropper:
            await dropper()


@pytest.fixture
def backend(database: Settings) -> str:
    return "postgres" if database.database_url.startswith("postgres") else "sqlite"


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    key_cache.clear()
    yield
    key_cache.clear()


def make_actor(name: str, *scopes: str) -> Actor:
    return Actor(name=name, scopes=expand_scopes(scopes), kind="api_key", request_id="test")


@pytest.fixture
def reader() -> Actor:
    return make_actor("reader", "read")


@pytest.fixture
def writer() -> Actor:
    return make_actor("writer", "write")


@pytest.fixture
def admin() -> Actor:
    return make_actor("admin", "admin")


@pytest.fixture
async def client(database: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The whole ASGI application over HTTP (no socket); the ORM is the test session's."""
    from app.main import create_app

    app = create_app(database, manage_db=False)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver",
            headers={"X-API-Key": WRITE_KEY},
        ) as http:
            yield http


def unique(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


__all__ = ["ADMIN_KEY", "READ_KEY", "WRITE_KEY", "Tortoise", "make_actor", "unique"]
