"""Database engine and session factory."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core import sqlite_driver
from core.write_gate import GatedSessions, WriteGate

SessionFactory = async_sessionmaker[AsyncSession]


SQLITE_SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")


def create_engine(url: str, *, synchronous: str = "FULL", **kwargs: Any) -> AsyncEngine:
    """Create an async engine.

    Bound values never appear in error messages or tracebacks (``hide_parameters``):
    they carry citizens' messages, addresses and phone numbers. SQLite gets WAL and a
    busy timeout so that the bots, the action server and the CLI can share one file.

    Args:
        url: The database URL.
        synchronous: SQLite's ``synchronous`` pragma. FULL (the default) makes every
            commit durable across a power loss before we acknowledge an update to
            Telegram or VK; NORMAL is faster and may lose the last commits
            (``bench/README.md`` has the cost).
        kwargs: Passed to SQLAlchemy's ``create_async_engine``.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        if synchronous.upper() not in SQLITE_SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}")
        kwargs.setdefault("connect_args", {"timeout": 30})
        if url.startswith("sqlite+aiosqlite"):
            # A statement in one hop to aiosqlite's thread instead of four.
            kwargs.setdefault("module", sqlite_driver.dbapi())
        engine = create_async_engine(url, **kwargs)
        pragma = f"PRAGMA synchronous={synchronous.upper()}"

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(pragma)
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions over ``engine``; SQLite's writers queue at a write gate of the process
    (`core.write_gate`)."""
    if engine.dialect.name == "sqlite":
        return GatedSessions(engine, WriteGate())
    return async_sessionmaker(engine, expire_on_commit=False)
