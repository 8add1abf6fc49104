"""Statements outside a transaction on the bounded client's `_PooledConnection` (the pool's
`checkout`/`checkin`) against Tortoise's `PoolConnectionWrapper` (the pool's `acquire()`/
`release()`), through execute_query / execute_query_dict / execute_insert and their error
translation: for valid statements the same results and rows, for refused ones the same error
(type, message, cause), including a connection the server cut. A Tortoise or asyncpg upgrade
that changes what the general path answers fails here. PostgreSQL only (the SQLite client is
Tortoise's own)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from tortoise.backends.base.client import PoolConnectionWrapper

from db.pool import BoundedAsyncpgClient
from tests.conftest import BACKEND
from tests.services.scratch import bounded_client, scratch_table

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="the bounded client is PostgreSQL's")

_TABLE = "h3_pooled"


@pytest.fixture
async def client(database) -> AsyncIterator[BoundedAsyncpgClient]:
    async with scratch_table(bounded_client(database, "h3"), _TABLE) as db:
        yield db


def _general(client: BoundedAsyncpgClient, method: str) -> Any:
    """`method` on Tortoise's own `PoolConnectionWrapper` (the pool's `acquire()`/`release()`),
    as statements ran before `_PooledConnection`."""
    async def run(*args: Any) -> Any:
        client.acquire_connection = lambda: PoolConnectionWrapper(client, client._pool_init_lock)
        try:
            return await getattr(client, method)(*args)
        finally:
            del client.acquire_connection

    return run


def _rows(result: Any) -> Any:
    if isinstance(result, tuple):  # execute_query: (count, records)
        return result[0], [tuple(r.items()) for r in result[1]]
    if isinstance(result, list):  # execute_query_dict
        return [sorted(r.items()) for r in result]
    return None if result is None else tuple(result.items())  # execute_insert: a record


async def _outcome(call: Any) -> tuple:
    try:
        return ("ok", _rows(await call))
    except Exception as exc:  # noqa: BLE001 - the outcome is what is compared
        cause = exc.__cause__
        return ("error", type(exc), str(exc), type(cause), str(cause) if cause else None)


async def _reset(db: BoundedAsyncpgClient) -> None:
    await db.execute_script(
        f'TRUNCATE "{_TABLE}"; INSERT INTO "{_TABLE}" VALUES (1, \'one\', 1, NULL)')


CASES = [
    # valid
    ("execute_query", "SELECT $1::int + 1 AS x, 'a' AS y", [41]),
    ("execute_query", f'SELECT * FROM "{_TABLE}" ORDER BY id', None),
    ("execute_query", f'INSERT INTO "{_TABLE}" VALUES ($1, $2, $3, $4)', [2, "two", 2, 1]),
    ("execute_query", f'  update "{_TABLE}" SET name = $1 WHERE id > $2', ["x", 0]),
    ("execute_query", f'DELETE FROM "{_TABLE}" WHERE id = $1', [99]),
    ("execute_query", f'WITH a AS (INSERT INTO "{_TABLE}" VALUES (3, $1) RETURNING id) '
                      "SELECT id FROM a", ["three"]),
    ("execute_query_dict", f'SELECT id, name FROM "{_TABLE}" WHERE id = $1', [1]),
    ("execute_query_dict", "SELECT 1 AS a WHERE false", None),
    ("execute_insert", f'INSERT INTO "{_TABLE}" VALUES ($1, $2) RETURNING id, name', [4, "four"]),
    ("execute_insert", f'INSERT INTO "{_TABLE}" VALUES ($1, $2)', [5, "five"]),
    # refused: constraint violations (IntegrityError -> 409/404 upstream)
    ("execute_query", f'INSERT INTO "{_TABLE}" VALUES ($1, $2)', [1, "dup"]),
    ("execute_query", f'INSERT INTO "{_TABLE}" VALUES ($1, $2, NULL, $3)', [6, "fk", 77]),
    ("execute_query", f'INSERT INTO "{_TABLE}" (id) VALUES ($1)', [7]),
    ("execute_insert", f'INSERT INTO "{_TABLE}" VALUES ($1, $2) RETURNING id', [1, "dup"]),
    # refused: the caller's data (InvalidData), client- and server-side
    ("execute_query", f'INSERT INTO "{_TABLE}" VALUES ($1, $2)', [8, "nul\x00"]),
    ("execute_query", f'INSERT INTO "{_TABLE}" VALUES ($1, $2, $3)', [9, "big", 70000]),
    ("execute_query", "SELECT 1 / $1::int", [0]),
    ("execute_query", "SELECT $1::int", ["not a number"]),
    ("execute_query_dict", "SELECT 'x'::int", None),
    # refused: the statement itself (OperationalError), others untranslated
    ("execute_query", "SELEC 1", None),
    ("execute_query", f'SELECT nope FROM "{_TABLE}"', None),
    ("execute_query_dict", 'SELECT * FROM "no_such_table"', None),
    ("execute_query", "SELECT 1; SELECT 2", None),
    ("execute_query", "ROLLBACK TO SAVEPOINT nowhere", None),  # InvalidTransactionState
    # refused: an outage-like error (QueryCanceledError -> DatabaseUnavailable)
    ("execute_query", "SELECT pg_cancel_backend(pg_backend_pid()), pg_sleep(0.5)", None),
]


@pytest.mark.parametrize(("method", "query", "values"), CASES)
async def test_the_fast_path_answers_what_tortoise_answers(client, method, query, values) -> None:
    outcomes = []
    for run in (getattr(client, method), _general(client, method)):
        await _reset(client)
        outcomes.append(await _outcome(run(query, values)))
        table = client.execute_query(f'SELECT * FROM "{_TABLE}" ORDER BY id')
        outcomes.append(await _outcome(table))
    fast, fast_after, general, general_after = outcomes
    assert fast == general
    assert fast_after == general_after  # the same rows written (or none)


async def test_a_connection_the_server_cuts_is_unavailable_on_both_paths(client) -> None:
    outcomes = []
    for run in (client.execute_query, _general(client, "execute_query")):
        # The server ends the pooled connection's session during the statement.
        outcomes.append((await _outcome(run("SELECT pg_terminate_backend(pg_backend_pid())")))[:3])
        outcomes.append(await _outcome(run("SELECT 2 AS two")))  # the pool reconnects
    fast, fast_next, general, general_next = outcomes
    assert fast == general
    assert fast[1].__name__ == "DatabaseUnavailable"
    assert fast_next == general_next == ("ok", (1, [(("two", 2),)]))


async def test_an_idle_connection_found_closed_is_replaced_on_both_paths(client, database) -> None:
    outcomes = []
    for run in (client.execute_query, _general(client, "execute_query")):
        _, rows = await client.execute_query("SELECT pg_backend_pid()")
        admin = await asyncpg.connect(database.database_url)
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", rows[0][0])
        finally:
            await admin.close()
        # The pool sees the socket close; asyncpg's min-size upkeep reconnects the holder.
        await asyncio.sleep(0.3)
        fresh = run("SELECT pg_backend_pid() <> $1::int AS fresh", [rows[0][0]])
        outcomes.append(await _outcome(fresh))
    assert outcomes == [("ok", (1, [(("fresh", True),)]))] * 2
