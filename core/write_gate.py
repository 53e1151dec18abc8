"""One writer at a time inside a process, for SQLite.

SQLite lets one transaction write at a time. When several of a process's transactions
want to write at once, all but one sleep in SQLite's busy handler, which polls with
pauses growing to 100 ms: a transaction can wait long after the lock came free. Queuing
the writers of a process here instead hands the database on at once, and lets the
writes that matter most for correctness (recording that Telegram took a reply: until it
is recorded, a crash sends the reply again) go before the others.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

NORMAL = 0
URGENT = 1


class WriteGate:
    """A lock that wakes waiters by priority (higher first), then in arrival order."""

    def __init__(self) -> None:
        self._held = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @asynccontextmanager
    async def hold(self, priority: int = NORMAL) -> AsyncIterator[None]:
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: int) -> None:
        if not self._held and not self._waiting:
            self._held = True
            return
        waiter = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (-priority, next(self._order), waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed over just as we gave up: pass it on
            raise

    def _release(self) -> None:
        while self._waiting:
            _, _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():
                waiter.set_result(None)
                return
        self._held = False


class GatedSessions(async_sessionmaker[AsyncSession]):
    """A session factory whose ``begin()`` first takes its turn at the write gate
    (reads through ``sessions()`` do not wait). ``urgent()`` gives a factory over the
    same gate whose transactions go first."""

    def __init__(self, engine: AsyncEngine, gate: WriteGate, priority: int = NORMAL) -> None:
        super().__init__(engine, expire_on_commit=False)
        self.gate = gate
        self.priority = priority

    def begin(self) -> Any:
        return self._gated_begin()

    @asynccontextmanager
    async def _gated_begin(self) -> AsyncIterator[AsyncSession]:
        async with self.gate.hold(self.priority), super().begin() as session:
            yield session

    def urgent(self) -> GatedSessions:
        return GatedSessions(self.kw["bind"], self.gate, URGENT)


def urgent(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """``sessions`` whose write transactions go before the others, where that means
    anything (SQLite); the same factory elsewhere."""
    return sessions.urgent() if isinstance(sessions, GatedSessions) else sessions


@asynccontextmanager
async def connection(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Any]:
    """A connection of ``sessions``' engine, without an ORM session: for the few hot
    statements where a session's own cost is most of the work. Reads only."""
    engine: AsyncEngine = sessions.kw["bind"]
    async with engine.connect() as conn:
        yield conn


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Any]:
    """A transaction on a connection of ``sessions``' engine, without an ORM session,
    taking its turn at the write gate as ``sessions.begin()`` does."""
    engine: AsyncEngine = sessions.kw["bind"]
    if isinstance(sessions, GatedSessions):
        async with sessions.gate.hold(sessions.priority), engine.begin() as conn:
            yield conn
    else:
        async with engine.begin() as conn:
            yield conn
