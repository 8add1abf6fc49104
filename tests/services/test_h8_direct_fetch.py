"""`db.pool.fetch_rows` (one row-returning statement straight to asyncpg) against what it stands
for, `(await db.execute_query(query, values))[1]` through Tortoise's wrapping, on the bounded
client (the pool's checkout/checkin) and on its transaction wrapper (the transaction's
connection under its lock): the same rows, the same errors (type, message, cause, context) for
every refusal and every driver error the translations know, the same rows left behind, the
same pool state, the same transaction state after a failure, the same debug log line. A
Tortoise or asyncpg upgrade that changes what the general path does fails here.
The registerArtifact write uses it (checked below); tests/services/test_perf_write_artifact.py
and test_write_values.py compare that write with the ORM's. PostgreSQL only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from db import pool as db_pool
from db.pool import BoundedAsyncpgClient, BoundedTransactionWrapper, fetch_rows
from db.sqlcount import CountingConnection
from tests.conftest import BACKEND
from tests.services.scratch import bounded_client, scratch_table

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="the bounded client is PostgreSQL's")

_TABLE = "h8_direct"


def _new_client(database, **extra: Any) -> BoundedAsyncpgClient:
    return bounded_client(database, "h8", **extra)


@pytest.fixture
async def client(database) -> AsyncIterator[BoundedAsyncpgClient]:
    async with scratch_table(_new_client(database), _TABLE) as db:
        yield db


async def _general(db: Any, query: str, values: list) -> list:
    return (await db.execute_query(query, values))[1]


def _error(exc: BaseException) -> tuple:
    cause, context = exc.__cause__, exc.__context__
    return ("error", type(exc), str(exc), type(cause), str(cause) if cause else None,
            type(context), exc.__suppress_context__)


async def _outcome(call: Any) -> tuple:
    try:
        return ("ok", [tuple(r.items()) for r in await call])
    except Exception as exc:  # noqa: BLE001 - the outcome is what is compared
        return _error(exc)


async def _table(db: Any) -> list:
    _, rows = await db.execute_query(f'SELECT * FROM "{_TABLE}" ORDER BY id')
    return [tuple(r) for r in rows]


async def _reset(db: BoundedAsyncpgClient) -> None:
    await db.execute_script(
        f'TRUNCATE "{_TABLE}"; INSERT INTO "{_TABLE}" VALUES (1, \'one\', 1, NULL)')


CASES = [
    # rows
    ("SELECT $1::int + 1 AS x, 'a' AS y", [41]),
    (f'SELECT * FROM "{_TABLE}" WHERE id >= $1 ORDER BY id', [0]),
    (f'SELECT * FROM "{_TABLE}" WHERE id = $1', [99]),
    (f'WITH a AS (INSERT INTO "{_TABLE}" VALUES ($1, $2) RETURNING id) SELECT id FROM a',
     [3, "three"]),
    (f'WITH a AS (INSERT INTO "{_TABLE}" VALUES ($1, $2) ON CONFLICT (id) DO NOTHING'
     ' RETURNING id) SELECT id FROM a', [1, "again"]),
    # constraint violations (IntegrityError: unique, foreign key, NOT NULL)
    (f'WITH a AS (INSERT INTO "{_TABLE}" VALUES ($1, $2) RETURNING id) SELECT id FROM a',
     [1, "dup"]),
    (f'WITH a AS (INSERT INTO "{_TABLE}" VALUES ($1, $2, NULL, $3) RETURNING id) SELECT id'
     ' FROM a', [6, "fk", 77]),
    (f'WITH a AS (INSERT INTO "{_TABLE}" (id, name) VALUES ($1, $2) RETURNING id) SELECT id'
     ' FROM a', [7, None]),
    # the caller's data (InvalidData), client- and server-side
    (f'WITH a AS (INSERT INTO "{_TABLE}" VALUES ($1, $2) RETURNING id) SELECT id FROM a',
     [8, "nul\x00"]),
    (f'WITH a AS (INSERT INTO "{_TABLE}" VALUES ($1, $2, $3) RETURNING id) SELECT id FROM a',
     [9, "big", 70000]),
    ("SELECT 1 / $1::int", [0]),
    ("SELECT $1::int", ["not a number"]),
    ("SELECT $1::int", [2**40]),
    # the statement itself (OperationalError), a wrong argument count (untranslated)
    ("SELEC $1", [1]),
    (f'SELECT nope FROM "{_TABLE}" WHERE id = $1', [1]),
    ("SELECT $1::int, $2::int", [1]),
    # an outage-like error (QueryCanceledError -> DatabaseUnavailable)
    ("SELECT pg_cancel_backend(pg_backend_pid()), pg_sleep($1)", [0.5]),
]


def _pool_state(db: BoundedAsyncpgClient) -> tuple:
    pool = db._pool._pool
    return (pool.get_size(), pool.get_idle_size(), pool._queue.qsize())


@pytest.mark.parametrize(("query", "values"), CASES)
async def test_outside_a_transaction_it_answers_what_execute_query_answers(
        client, query, values) -> None:
    outcomes = []
    for run in (fetch_rows, _general):
        await _reset(client)
        outcomes.append(await _outcome(run(client, query, values)))
        outcomes.append(await _table(client))
        outcomes.append(_pool_state(client))  # the connection is back, whatever happened
    fast, fast_rows, fast_pool, general, general_rows, general_pool = outcomes
    assert fast == general
    assert fast_rows == general_rows
    assert fast_pool == general_pool == (1, 1, 1)


@pytest.mark.parametrize(("query", "values"), CASES)
async def test_inside_a_transaction_it_answers_what_execute_query_answers(
        client, query, values) -> None:
    outcomes = []
    for run in (fetch_rows, _general):
        await _reset(client)
        async with client._in_transaction() as tx:
            assert type(tx) is BoundedTransactionWrapper
            outcomes.append(await _outcome(run(tx, query, values)))
            # The transaction after it: still usable, or aborted (the same error next).
            outcomes.append(await _outcome(run(tx, "SELECT $1::int AS next", [5])))
            outcomes.append(tx._lock.locked())
        outcomes.append(await _table(client))  # committed, or rolled back by the failure
        outcomes.append(_pool_state(client))
    half = len(outcomes) // 2
    assert outcomes[:half] == outcomes[half:]
    assert outcomes[2] is False  # the lock is released


async def test_a_nested_transaction_wrapper_takes_the_direct_path(client, monkeypatch) -> None:
    seen = []
    original = db_pool._fetch_direct

    async def spy(db, query, values, pool):
        seen.append((db, pool))
        return await original(db, query, values, pool)

    monkeypatch.setattr(db_pool, "_fetch_direct", spy)
    await _reset(client)
    async with client._in_transaction() as tx:
        async with tx._in_transaction() as nested:
            rows = await fetch_rows(nested, f'SELECT name FROM "{_TABLE}" WHERE id = $1', [1])
    assert [tuple(r) for r in rows] == [("one",)]
    assert seen == [(nested, None)] and type(nested) is BoundedTransactionWrapper


# Every kind of error the two translations (Tortoise's, then db.pool._translate) tell apart,
# raised by the connection's fetch itself: the direct path must raise exactly what the general
# path raises.
_DRIVER_ERRORS = [
    asyncpg.UniqueViolationError("dup"),
    asyncpg.ForeignKeyViolationError("fk"),
    asyncpg.NotNullViolationError("nn"),
    asyncpg.CheckViolationError("check"),
    asyncpg.DataError("data"),
    asyncpg.CharacterNotInRepertoireError("nul"),
    asyncpg.NumericValueOutOfRangeError("range"),
    asyncpg.PostgresSyntaxError("syntax"),
    asyncpg.UndefinedColumnError("column"),
    asyncpg.InsufficientPrivilegeError("privilege"),
    asyncpg.InvalidTransactionStateError("state"),
    asyncpg.InFailedSQLTransactionError("aborted"),
    asyncpg.QueryCanceledError("canceled"),
    asyncpg.AdminShutdownError("shutdown"),
    asyncpg.LockNotAvailableError("lock"),
    asyncpg.DeadlockDetectedError("deadlock"),
    asyncpg.SerializationError("serialization"),
    asyncpg.TooManyConnectionsError("too many"),
    asyncpg.ConnectionDoesNotExistError("gone"),
    asyncpg.InterfaceError("connection is closed"),
    asyncpg.InternalClientError("cannot switch to state"),
    asyncpg.InvalidTextRepresentationError("text"),
    ConnectionResetError("reset"),
    OSError("os"),
    asyncio.TimeoutError(),
    ValueError("a value"),
    RuntimeError("other"),
]


@pytest.mark.parametrize("error", _DRIVER_ERRORS, ids=lambda e: type(e).__name__)
async def test_every_driver_error_is_translated_as_execute_query_translates_it(
        client, monkeypatch, error) -> None:
    async def failing_fetch(self, query, *args, **kwargs):
        raise error

    monkeypatch.setattr(CountingConnection, "fetch", failing_fetch)
    outcomes = []
    for run in (fetch_rows, _general):
        outcomes.append(await _outcome(run(client, "SELECT $1::int", [1])))
        outcomes.append(_pool_state(client))
        async with client._in_transaction() as tx:
            outcomes.append(await _outcome(run(tx, "SELECT $1::int", [1])))
            outcomes.append(tx._lock.locked())
    half = len(outcomes) // 2
    assert outcomes[:half] == outcomes[half:]
    assert outcomes[0][0] == "error"


async def test_a_pool_with_no_free_connection_is_unavailable_on_both_paths(database) -> None:
    db = _new_client(database, acquire_timeout=0.2)
    await db.create_connection(with_db=True)
    try:
        held = await db._pool.checkout()  # the pool's only connection
        try:
            outcomes = [await _outcome(run(db, "SELECT $1::int", [1]))
                        for run in (fetch_rows, _general)]
        finally:
            await db._pool.checkin(held)
        assert outcomes[0] == outcomes[1]
        assert outcomes[0][1].__name__ == "DatabaseUnavailable"
        assert outcomes[0][2] == "no database connection became free in time"
        assert [tuple(r) for r in await fetch_rows(db, "SELECT $1::int", [7])] == [(7,)]
    finally:
        await db.close()


async def test_a_connection_the_server_cuts_is_unavailable_on_both_paths(client) -> None:
    outcomes = []
    for run in (fetch_rows, _general):
        outcomes.append((await _outcome(
            run(client, "SELECT pg_terminate_backend(pg_backend_pid()) AND $1", [True])))[:3])
        outcomes.append(await _outcome(run(client, "SELECT $1::int AS two", [2])))
    fast, fast_next, general, general_next = outcomes
    assert fast == general
    assert fast[1].__name__ == "DatabaseUnavailable"
    assert fast_next == general_next == ("ok", [(("two", 2),)])


async def test_before_the_pool_exists_it_is_execute_query(database) -> None:
    db = _new_client(database)
    try:
        assert db._pool is None
        assert [tuple(r) for r in await fetch_rows(db, "SELECT $1::int", [3])] == [(3,)]
        assert db._pool is not None  # created on first use, as execute_query does
    finally:
        await db.close()


async def test_another_client_is_left_to_its_execute_query() -> None:
    class Other:
        async def execute_query(self, query, values):
            return 1, [("other", query, values)]

    assert await fetch_rows(Other(), "SELECT $1", [1]) == [("other", "SELECT $1", [1])]


async def test_both_paths_log_the_same_debug_line(client, caplog) -> None:
    records = []
    for run in (fetch_rows, _general):
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger=client.log.name):
            await run(client, "SELECT $1::int AS logged", [11])
            async with client._in_transaction() as tx:
                await run(tx, "SELECT $1::int AS logged", [12])
        records.append([(r.name, r.levelno, r.getMessage()) for r in caplog.records
                        if "logged" in r.getMessage()])
    assert records[0] == records[1] and len(records[0]) == 2


async def test_register_artifact_sends_its_statement_on_the_direct_path(
        database, writer, monkeypatch) -> None:
    from tortoise.transactions import in_transaction

    from app.services import artifacts
    from app.services.commands import RegisterArtifact
    from tests import factories as f

    seen = []
    original = db_pool._fetch_direct

    def spy(db, query, values, pool):
        seen.append(("pooled" if pool is not None else "in transaction", query))
        return original(db, query, values, pool)

    monkeypatch.setattr(db_pool, "_fetch_direct", spy)
    build = await f.build(writer, await f.project(writer))
    command = dict(state_code=10, artifact_type="ami", artifact_path="s3://b/x")
    await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                      command=RegisterArtifact(artifact_name="x", **command))
    async with in_transaction():
        await artifacts.register_artifact(actor=writer, build_id=str(build.id),
                                          command=RegisterArtifact(artifact_name="y", **command))
    assert seen == [("pooled", artifacts._PG_REGISTER),
                    ("in transaction", artifacts._PG_REGISTER)]


@pytest.mark.parametrize("path", [_general, fetch_rows], ids=["execute_query", "fetch_rows"])
async def test_what_the_service_layer_expects_from_both_paths(client, path) -> None:
    """Not only the same on both paths: the refusals the service layer maps (the caller's data:
    InvalidData, a 422/VALIDATION; the database not there now: DatabaseUnavailable, a 503)
    come out as those, caused by the driver's error (what app/rest/errors.py and
    schema/limits.py read)."""
    await _reset(client)
    for query, values in [CASES[8], CASES[10], CASES[11]]:
        with pytest.raises(db_pool.InvalidData) as refused:
            await path(client, query, values)
        assert isinstance(refused.value.__cause__, asyncpg.DataError)
        assert refused.value.__suppress_context__
        assert str(refused.value) == str(refused.value.__cause__)
    with pytest.raises(db_pool.DatabaseUnavailable) as unavailable:
        await path(client, *CASES[-1])
    assert isinstance(unavailable.value.__cause__, asyncpg.QueryCanceledError)
    assert str(unavailable.value).startswith("QueryCanceledError: ")
    with pytest.raises(db_pool.OperationalError) as syntax:  # the statement's own fault: as is
        await path(client, "SELEC $1", [1])
    assert not isinstance(syntax.value, (db_pool.InvalidData, db_pool.DatabaseUnavailable))
