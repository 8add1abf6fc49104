"""A bounded PostgreSQL client of one connection on the test database, and a scratch table on it,
for the tests that compare the bounded client's statement paths with Tortoise's
(test_h3_pooled_statements.py, test_h8_direct_fetch.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise.backends.base.config_generator import expand_db_url

from db.config import normalize_url
from db.pool import BoundedAsyncpgClient


def bounded_client(database, name: str, **extra: Any) -> BoundedAsyncpgClient:
    """One connection (so that pool state is exact), short timeouts unless `extra` says."""
    credentials = {**expand_db_url(normalize_url(database.database_url))["credentials"],
                   "minsize": 1, "maxsize": 1}
    return BoundedAsyncpgClient(connection_name=name, **credentials,
                                **({"acquire_timeout": 3, "statement_timeout": 5,
                                    "lock_timeout": 2} | extra))


@asynccontextmanager
async def scratch_table(db: BoundedAsyncpgClient, table: str) -> AsyncIterator[BoundedAsyncpgClient]:
    """`db` connected, with `table` (id, name NOT NULL, a smallint, a self-reference) created;
    dropped and the client closed afterwards."""
    await db.create_connection(with_db=True)
    await db.execute_script(
        f'DROP TABLE IF EXISTS "{table}"; CREATE TABLE "{table}" (id int PRIMARY KEY,'
        f' name text NOT NULL, n smallint, ref int REFERENCES "{table}" (id))')
    try:
        yield db
    finally:
        await db.execute_script(f'DROP TABLE IF EXISTS "{table}"')
        await db.close()
