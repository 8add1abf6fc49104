"""Apply aerich migrations to a database: `python -m db.migrate [URL]`.

SQLite and PostgreSQL each have their own migration folder (aerich writes dialect-specific SQL),
both generated from the same models; tests/contract/test_migrations.py proves they agree.
"""

from __future__ import annotations

import asyncio
import sys

from aerich import Command
from tortoise import Tortoise

from db.config import migrations_location, tortoise_config


async def migrate(url: str) -> list[str]:
    """Apply every pending migration; returns the names of those applied."""
    command = Command(tortoise_config=tortoise_config(url), app="models", location=migrations_location(url))
    try:
        await command.init()
        return await command.upgrade(run_in_transaction=True)
    finally:
        await Tortoise.close_connections()


def main() -> None:
    from app.settings import get_settings

    url = sys.argv[1] if len(sys.argv) > 1 else get_settings().database_url
    applied = asyncio.run(migrate(url))
    print(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")


if __name__ == "__main__":
    main()
