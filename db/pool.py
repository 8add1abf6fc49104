"""asyncpg under Tortoise with bounded waits, and one error for "the database is unavailable".

Tortoise's asyncpg client waits for a pooled connection forever and lets driver errors about
dead connections escape untranslated. This client (selected by `db.config.tortoise_config`)
bounds every wait — pool acquisition, statements, row locks — and turns the failures a
restart, an outage or a saturated pool produce into `DatabaseUnavailable`, a Tortoise
`DBConnectionError`, which the REST shim answers with 503 + Retry-After. It also releases the
connection when a transaction's BEGIN fails (Tortoise 1.1.9 keeps it, and the task's context
keeps pointing at it, which after a PostgreSQL restart leaks the pool slot for good).

It also skips asyncpg's session reset on release (see `_keep_session`), takes and returns an
idle connection without asyncpg's per-call timeout contexts and release task when nothing can
wait (`BoundedPool.checkout`/`checkin`), and can count the statements each request sends
(`db.sqlcount`, for the `X-SQL-Statements` header).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import (
    NestedTransactionContext,
    PoolConnectionWrapper,
    TransactionContextPooled,
)
from tortoise.connection import get_connections
from tortoise.exceptions import (
    DBConnectionError,
    IntegrityError,
    OperationalError,
    TransactionManagementError,
)

from db import sqlcount

log = logging.getLogger("buildstate.db")

# Errors that say "not now" rather than "not ever": the caller should retry shortly.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # connection lost, refused, rejected
    asyncpg.OperatorInterventionError,  # admin shutdown, cannot connect now, statement timeout
    asyncpg.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.LockNotAvailableError,  # lock_timeout
    asyncpg.TransactionRollbackError,  # serialization failure, deadlock: retry as a whole
    asyncpg.InterfaceError,  # "connection is closed" after the server went away
    asyncpg.InternalClientError,  # a connection cut mid-operation: "cannot switch to state …"
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


class DatabaseUnavailable(DBConnectionError):
    """The database cannot serve this request now (down, restarting, saturated, too slow)."""


class InvalidData(OperationalError):
    """PostgreSQL refused a value (a NUL character, a number out of range): the caller's input,
    not an outage; SQLite would have stored it."""


class _BoundedAcquire:
    """`pool.acquire()` with a deadline, as an awaitable and as an async context manager."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx

    def __await__(self):
        return self._get().__await__()

    async def _get(self) -> Any:
        try:
            return await self._ctx
        except asyncio.TimeoutError:
            raise DatabaseUnavailable("no database connection became free in time") from None
        except _UNAVAILABLE as exc:  # connecting failed: the server is down or restarting
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def __aenter__(self) -> Any:
        try:
            return await self._ctx.__aenter__()
        except asyncio.TimeoutError:
            raise DatabaseUnavailable("no database connection became free in time") from None
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._ctx.__aexit__(*exc)


class BoundedPool:
    """An asyncpg pool whose `acquire` gives up after `acquire_timeout` seconds."""

    def __init__(self, pool: asyncpg.Pool, acquire_timeout: float) -> None:
        self._pool = pool
        self.acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> _BoundedAcquire:
        return _BoundedAcquire(
            self._pool.acquire(timeout=self.acquire_timeout if timeout is None else timeout)
        )

    async def checkout(self) -> Any:
        """`await acquire()`, without its deadline machinery when a connection is idle.

        asyncpg's `Pool.acquire(timeout=…)` runs every acquisition under a timeout context (an
        `asyncio.timeout` with its timer handle, and the frames of `_acquire`, `_acquire_impl`
        and `wait_for`), though with an idle connection at hand nothing waits. When one is (a
        holder in the pool's LIFO queue, its connection open and of the pool's current
        generation, no `setup` callback: `PoolConnectionHolder.acquire` then never suspends),
        this takes it as `Pool._acquire` does — the top holder off the queue (as the
        non-suspending `Queue.get` there does: the same order, the same fairness to waiters),
        the proxy from the holder, the acquire timeout recorded as the release's default — and
        no deadline is needed. Otherwise (none free, the pool closing or closed, a holder still
        to connect) it is `acquire()` with its deadline, as before.
        tests/services/test_h3_pool_checkout.py runs both (limits, deadline, waiters, reset on
        release, a closed connection, cancellation, a closed pool) and compares."""
        pool = self._pool
        queue = pool._queue
        if not (queue.empty() or pool._closing or pool._closed
                or not pool._initialized):
            holder = queue.get_nowait()
            con = holder._con
            if (con is not None and not con.is_closed() and holder._setup is None
                    and holder._generation == pool._generation):
                try:
                    proxy = await holder.acquire()
                except BaseException:  # as Pool._acquire: the holder goes back to the pool
                    queue.put_nowait(holder)
                    pool._schedule_min_size_maintenance()
                    raise
                holder._timeout = self.acquire_timeout
                return proxy
            queue.put_nowait(holder)  # LIFO: back on top, where acquire() takes it first
        return await _BoundedAcquire(pool.acquire(timeout=self.acquire_timeout))._get()

    async def checkin(self, connection: Any) -> None:
        """`release(connection)`, without a task and a timeout context when nothing can wait.

        asyncpg's `Pool.release` runs the holder's release in a task of its own
        (`asyncio.shield`: a cancelled caller still returns the connection) under a timeout
        context. Both only matter when the release suspends: to roll back a transaction left
        open, to wait for a cancellation in flight, to close the connection (max queries
        reached, an expired generation). When none of that applies and the reset is
        `_keep_session` (which never suspends), the release runs to its end in one step — no
        cancellation can reach it, no deadline can pass — so this does in place what
        `PoolConnectionHolder.release` then does: the connection's release housekeeping
        (`_on_release`), its reset (`Connection._reset`: listeners dropped; then ours), the
        holder back on the queue (`_release`), the inactivity timer rearmed. Not when a task
        waits for a connection: `release()` suspends the caller, so the waiter it wakes takes
        the connection before the caller can take it back for its next statement; releasing
        in place would let the caller jump the queue. Anything else is `release()`.
        tests/services/test_h3_pool_checkout.py compares both."""
        pool = self._pool
        con = connection._con if type(connection) is PoolConnectionProxy else None
        holder = connection._holder if con is not None else None
        if (con is not None and holder._pool is pool and holder._in_use is not None
                and not pool._queue._getters  # a waiter: it must get the connection first
                and pool._reset is _keep_session and pool._initialized and not pool._closed
                and not con.is_closed() and holder._generation == pool._generation
                and con._protocol.queries_count < holder._max_queries
                and not con._protocol._is_cancelling()
                and not con._protocol.is_in_transaction() and con._top_xact is None):
            con._on_release()
            holder._timeout = None
            try:
                await con._reset()
                await _keep_session(con)
            except BaseException:  # as asyncpg: a connection whose reset failed is dropped
                con.terminate()
                raise
            holder._release()
            holder._setup_inactive_callback()
            return
        await self._pool.release(connection)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing beyond what asyncpg always does.

    asyncpg's default reset sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL;` every time a connection goes back to the pool, i.e. after every ORM query
    outside a transaction: one extra round trip per query (4 of every 5 logged statements of a
    resume-context read). Given a `reset`, asyncpg still rolls back a transaction left open and
    drops the connection's Python-side listeners first (`Connection._reset`), so what the
    default query adds only matters for session state, and this service leaves none on pooled
    connections:
    - advisory locks: only the cleanup run takes one, on a connection of its own
      (app.services.cleanup.exclusive_run); the orchestrator leases rows with FOR UPDATE;
    - cursors: none are declared (Tortoise fetches whole results; a cursor dies with its
      transaction anyway);
    - LISTEN: only app.services.live listens, on a dedicated connection outside this pool;
    - session settings: nothing runs SET (statement/lock/idle timeouts are startup parameters
      of every connection, see `BoundedAsyncpgClient.__init__`; `SET LOCAL` would end with its
      transaction). Code that ever needs session state must take a connection of its own, as
      live.py does, or restore it before releasing.
    """


async def _translate(client: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await AsyncpgDBClient._translate_exceptions(client, func, *args, **kwargs)
    except _OURS as exc:
        _raise_ours(exc)
        raise


_OURS = (OperationalError, *_UNAVAILABLE)  # what `_raise_ours` may replace


def _raise_ours(exc: BaseException) -> None:
    """Called in the `except` clause of an error Tortoise's translation let through: raises
    what the service layer expects instead (a refused value: InvalidData; the database not
    there now: DatabaseUnavailable), or returns for the caller to re-raise `exc` (one of ours
    already, or another OperationalError)."""
    if isinstance(exc, DBConnectionError):  # DatabaseUnavailable is one (and a ConnectionError)
        return
    if isinstance(exc, OperationalError):
        if isinstance(exc.__cause__, asyncpg.DataError):
            raise InvalidData(str(exc.__cause__)) from exc.__cause__
        return
    raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc


class _SafeTransactionContext(TransactionContextPooled):
    """Tortoise's pooled transaction, minus the leak when BEGIN fails on a dead connection."""

    async def __aenter__(self):  # type: ignore[override]
        await self.ensure_connection()
        self.client._connection = await self.client._parent._pool.checkout()
        self.token = get_connections().set(self.connection_name, self.client)
        try:
            await self.client.begin()
        except BaseException:
            get_connections().reset(self.token)
            try:
                # asyncpg replaces a closed connection on release; a live one is reset.
                await self.client._parent._pool.release(self.client._connection)
            except Exception:  # the pool may be closing; the connection is lost either way
                log.debug("could not release a connection whose BEGIN failed", exc_info=True)
            raise
        return self.client

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        try:
            if not self.client._finalized:
                if exc_type:
                    if exc_type is not TransactionManagementError:  # it failed already
                        await self.client.rollback()
                else:
                    await self.client.commit()
        finally:
            try:
                if self.client._parent._pool:
                    await self.client._parent._pool.checkin(self.client._connection)
            except _UNAVAILABLE:
                # Resetting a connection the server cut fails; asyncpg has terminated it and
                # will open a new one. The transaction's own outcome (above) is what counts.
                log.debug("could not release a broken connection", exc_info=True)
            finally:
                get_connections().reset(self.token)


class BoundedTransactionWrapper(TransactionWrapper):
    async def _translate_exceptions(self, func, *args, **kwargs):  # type: ignore[override]
        return await _translate(self, func, *args, **kwargs)

    # Tortoise leaves COMMIT and ROLLBACK untranslated. A COMMIT that fails this way is
    # ambiguous (it may have been applied): the caller hears 503 and retries, with the same
    # Idempotency-Key when it follows the documented practice.
    async def commit(self) -> None:
        try:
            await super().commit()
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def rollback(self) -> None:
        try:
            await super().rollback()
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _in_transaction(self) -> NestedTransactionContext:
        return NestedTransactionContext(BoundedTransactionWrapper(self))


class BoundedAsyncpgClient(AsyncpgDBClient):
    """Tortoise's asyncpg client with bounded waits (see the module docstring).

    Extra credentials (from `db.config`): `acquire_timeout` (seconds to wait for a pooled
    connection), `statement_timeout` and `lock_timeout` (seconds, enforced by PostgreSQL).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        acquire = float(kwargs.pop("acquire_timeout", 5.0))
        statement = float(kwargs.pop("statement_timeout", 30.0))
        lock = float(kwargs.pop("lock_timeout", 10.0))
        super().__init__(*args, **kwargs)
        self.acquire_timeout = acquire
        if statement > 0:
            self.server_settings.setdefault("statement_timeout", str(int(statement * 1000)))
            # The client-side bound catches a server that stopped answering altogether.
            self.extra.setdefault("command_timeout", statement + 5)
        if lock > 0:
            self.server_settings.setdefault("lock_timeout", str(int(lock * 1000)))
        # A connection left idle inside a transaction (a stuck client) is closed by the server.
        self.server_settings.setdefault("idle_in_transaction_session_timeout", "60000")
        # Opening a connection counts against the same deadline as waiting for one.
        self.extra.setdefault("timeout", max(1.0, acquire))

    async def create_pool(self, **kwargs: Any) -> Any:
        kwargs["reset"] = _keep_session
        kwargs["connection_class"] = sqlcount.CountingConnection
        try:
            pool = await asyncpg.create_pool(None, **kwargs)
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return BoundedPool(pool, self.acquire_timeout)

    async def create_connection(self, with_db: bool) -> None:
        try:
            await super().create_connection(with_db)
        except DBConnectionError:
            raise
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def _translate_exceptions(self, func, *args, **kwargs):  # type: ignore[override]
        return await _translate(self, func, *args, **kwargs)

    def acquire_connection(self) -> _PooledConnection:  # type: ignore[override]
        # Every statement outside a transaction (every ORM read, the artifact write) comes
        # through here: Tortoise's PoolConnectionWrapper, with the pool's `checkout`/`checkin`.
        return _PooledConnection(self)

    def _in_transaction(self) -> TransactionContextPooled:
        return _SafeTransactionContext(BoundedTransactionWrapper(self), self._pool_init_lock)


class _PooledConnection(PoolConnectionWrapper):
    """Tortoise's `PoolConnectionWrapper` (the pool created on first use; the connection taken
    for one statement and given back, whatever happens), taking and returning it through
    `BoundedPool.checkout`/`checkin` instead of `acquire()`/`release()`: the same outcomes
    (tests/services/test_h3_pooled_statements.py runs statements through both and compares),
    without asyncpg's timeout contexts and release task when nothing waits."""

    __slots__ = ()

    def __init__(self, client: BoundedAsyncpgClient) -> None:
        super().__init__(client, client._pool_init_lock)

    async def __aenter__(self) -> Any:
        if self.client._pool is None:
            await self.ensure_connection()
        self.connection = await self.client._pool.checkout()
        return self.connection

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        await self.client._pool.checkin(self.connection)



# One statement that returns rows, straight to asyncpg: what `db.execute_query(query, values)`
# does on the bounded client and its transaction wrapper (Tortoise 1.1.9:
# `translate_exceptions` -> `BoundedAsyncpgClient._translate_exceptions` -> `_translate` ->
# `AsyncpgDBClient._translate_exceptions` -> `AsyncpgDBClient.execute_query` ->
# `acquire_connection` -> `connection.fetch`), without its five frames per call. The same
# connection (the pool's `checkout`/`checkin` outside a transaction; the transaction's own
# connection under its lock inside one), the same debug log line, the same `fetch` (counted by
# `sqlcount.CountingConnection`), the same errors: the translation below is
# `AsyncpgDBClient._translate_exceptions` inside `_translate`, verbatim.
# tests/services/test_h8_direct_fetch.py compares both paths (rows, errors with their causes,
# pool state, transactions) and fails if Tortoise's execute_query or translation changes.


async def fetch_rows(db: Any, query: str, values: list) -> list:
    """`(await db.execute_query(query, values))[1]` for a non-empty `values` and a `query` that
    does not start with INSERT, UPDATE or DELETE (those go through `execute`, not `fetch`)."""
    kind = type(db)
    if kind is BoundedAsyncpgClient and db._pool is not None:
        return await _fetch_direct(db, query, values, db._pool)
    if kind is BoundedTransactionWrapper and db._connection is not None:
        return await _fetch_direct(db, query, values, None)
    return (await db.execute_query(query, values))[1]  # anything else: Tortoise's own path


async def _fetch_direct(db: Any, query: str, values: list, pool: BoundedPool | None) -> list:
    """On `pool` (the bounded client's: checkout, and checkin whatever happens, as
    `_PooledConnection`), or with None on the transaction wrapper's connection under its lock
    (as Tortoise's `ConnectionWrapper`)."""
    try:
        try:
            if pool is not None:
                connection = await pool.checkout()
            else:
                lock = db._lock
                connection = db._connection
                await lock.acquire()
            try:
                db.log.debug("%s: %s", query, values)
                return await connection.fetch(query, *values)
            finally:
                if pool is not None:
                    await pool.checkin(connection)
                else:
                    lock.release()
        except (asyncpg.SyntaxOrAccessError, asyncpg.exceptions.DataError) as exc:
            raise OperationalError(exc) from exc
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(exc) from exc
        except asyncpg.InvalidTransactionStateError as exc:
            raise TransactionManagementError(exc) from exc
    except _OURS as exc:
        _raise_ours(exc)
        raise


client_class = BoundedAsyncpgClient
