"""Counting the SQL statements a unit of work sends (the `X-SQL-Statements` header, tests).

`counting()` opens a counter in the current context; every statement an asyncpg connection of
the bounded pool (db.pool) sends while that context is current adds to it, whatever task sends
it (asyncio copies the context into the tasks a request starts, e.g. DataLoader batches, and
the counter is shared by reference). Outside `counting()` the cost is one ContextVar lookup.

What counts: each round trip that runs SQL — queries, BEGIN/COMMIT/ROLLBACK, a pool reset —
one per statement of a multi-statement string. Not counted: the protocol-level preparation
of a statement (asyncpg caches it per connection) and type introspection on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import asyncpg


class Counter:
    __slots__ = ("statements",)

    def __init__(self) -> None:
        self.statements = 0


_current: ContextVar[Counter | None] = ContextVar("buildstate_sql_counter", default=None)
_connected = False  # a counting connection exists in this process (PostgreSQL, db.pool)


def supported() -> bool:
    """Whether statements are counted at all here (not on SQLite, nor on Tortoise's own client)."""
    return _connected


@contextmanager
def counting() -> Iterator[Counter]:
    counter = Counter()
    token = _current.set(counter)
    try:
        yield counter
    finally:
        _current.reset(token)


def _add(query: str) -> None:
    counter = _current.get()
    if counter is not None:
        counter.statements += max(1, query.strip().rstrip(";").count(";") + 1)


class CountingConnection(asyncpg.Connection):
    """asyncpg's connection, telling the current counter about each statement it sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        global _connected
        super().__init__(*args, **kwargs)
        _connected = True

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        if not args:  # the simple protocol (args go through _execute, counted there)
            _add(query)
        return await super().execute(query, *args, timeout=timeout)

    async def _execute(self, query: str, args: Any, limit: int, timeout: Any, **kwargs: Any) -> Any:
        _add(query)
        return await super()._execute(query, args, limit, timeout, **kwargs)

    async def _executemany(self, query: str, args: Any, timeout: Any, **kwargs: Any) -> Any:
        _add(query)
        return await super()._executemany(query, args, timeout, **kwargs)
