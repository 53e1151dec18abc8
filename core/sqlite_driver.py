"""SQLite for the async engine with one thread hop a statement.

SQLAlchemy's aiosqlite adapter awaits each cursor step on aiosqlite's thread in turn:
the cursor made, the statement run, the rows fetched, the cursor closed — four hops
between the event loop and that thread for every statement. A hop costs the event loop
about 50–80 µs of CPU on this project's machines, while the statement itself takes a
microsecond or two, so a message's twenty-odd statements spent most of their time
hopping (bench/README.md, «Website widget»). Here a statement's steps run together in
one call on that thread; what the caller sees (rows, description, row count, last row
id, errors) is what the plain adapter gives.

Server-side cursors (`stream`) keep the plain adapter's cursor.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

# What one statement leaves behind: description, rows, row count, last row id.
_Outcome = tuple[Any, list[Any], int, int | None]


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """One statement on aiosqlite's thread: run, fetch, close."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement runs in one call on aiosqlite's thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No aiosqlite cursor is made (that alone would be a hop): `_run` makes its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        pass  # nothing stays open on aiosqlite's thread

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._statement(operation, parameters, False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        try:
            return await_(self._statement(operation, seq_of_parameters, True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _statement(self, operation: Any, parameters: Any, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            outcome: _Outcome = await connection._execute(
                _run, connection._conn, operation, parameters, many
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    def nextset(self) -> None:
        return None


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """The aiosqlite connection with `OneHopCursor`; a commit or a rollback outside a
    transaction costs no hop (`sqlite3` itself does nothing then, and the pool rolls
    back every connection it gets back, committed or not)."""

    __slots__ = ()

    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def _idle(self) -> bool:
        """No transaction is open: read from SQLite's own flag, which only statements
        change, and none runs now (the caller awaits each in turn)."""
        connection = self._connection._connection
        return connection is not None and not connection.in_transaction

    def rollback(self) -> None:
        if not self._idle():
            super().rollback()

    def commit(self) -> None:
        if not self._idle():
            super().commit()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite adapter with `OneHopCursor`; pass as ``module`` to the engine."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        plain = super().connect(*arg, **kw)
        return OneHopConnection(self, plain._connection)


def dbapi() -> OneHopDBAPI:
    """The module object for ``create_async_engine(..., module=dbapi())``."""
    return OneHopDBAPI(aiosqlite, sqlite3)
