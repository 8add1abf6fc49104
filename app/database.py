"""Start and stop the ORM for a process."""

from __future__ import annotations

from tortoise import Tortoise
from tortoise.connection import get_connections

from app.settings import Settings
from db.config import tortoise_config


async def init_db(settings: Settings) -> None:
    # The global fallback lets request tasks reach the connections opened in the lifespan.
    await Tortoise.init(
        config=tortoise_config(
            settings.database_url, pool_min=settings.db_pool_min, pool_max=settings.db_pool_max,
            timeouts={
                "acquire_timeout": settings.db_acquire_timeout_seconds,
                "statement_timeout": settings.db_statement_timeout_seconds,
                "lock_timeout": settings.db_lock_timeout_seconds,
            },
        ),
        _enable_global_fallback=True,
    )


async def close_db() -> None:
    await Tortoise.close_connections()


async def ping() -> None:
    """Raises when the database does not answer."""
    await get_connections().get("default").execute_query("SELECT 1")
