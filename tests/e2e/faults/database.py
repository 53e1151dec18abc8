"""The bot's database seen from outside: what is left unanswered or undelivered, and
the PostgreSQL server the PostgreSQL test creates a database on and restarts."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_ETC = Path("/etc/postgresql")

TRANSCRIPT = "SELECT conversation_id, direction, kind FROM messages ORDER BY conversation_id, id"
OUTBOX = (
    "SELECT delivery_status, count(*) FROM messages WHERE direction = 'out' "
    "GROUP BY delivery_status"
)


@dataclass(frozen=True, slots=True)
class Stored:
    inbound_texts: int
    unanswered: int
    pending: int
    failed: int  # replies given up on (blocked ones are not counted)

    def line(self) -> str:
        return (
            f"db_in={self.inbound_texts} db_unanswered={self.unanswered} "
            f"db_pending={self.pending} db_failed={self.failed}"
        )


def unanswered(rows: list[tuple[int, str, str]]) -> tuple[int, int]:
    """Inbound texts, and how many of them have no reply row of their own after them in
    their conversation (each outbound row answers one earlier inbound text)."""
    texts = 0
    waiting: dict[int, int] = {}
    for conversation, direction, kind in rows:
        if direction == "in" and kind == "text":
            texts += 1
            waiting[conversation] = waiting.get(conversation, 0) + 1
        elif direction == "out" and waiting.get(conversation):
            waiting[conversation] -= 1
    missing = sum(waiting.values())
    return texts, missing


async def stored_in_sqlite(path: Path) -> Stored:
    def count() -> Stored:
        with sqlite3.connect(path) as db:
            rows = db.execute(TRANSCRIPT).fetchall()
            outbox = dict(db.execute(OUTBOX).fetchall())
        return Stored(*unanswered(rows), outbox.get("pending", 0), outbox.get("failed", 0))

    return await asyncio.to_thread(count)


async def stored_in_postgres(url: str) -> Stored:
    connection = await asyncpg.connect(plain_url(url))
    try:
        rows = [tuple(row) for row in await connection.fetch(TRANSCRIPT)]
        outbox = {status: count for status, count in await connection.fetch(OUTBOX)}
    finally:
        await connection.close()
    return Stored(*unanswered(rows), outbox.get("pending", 0), outbox.get("failed", 0))


def plain_url(url: str) -> str:
    """asyncpg's URL for a SQLAlchemy one."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """An empty database on the local server (SQLAlchemy URL), dropped afterwards."""
    name = f"djinn_faults_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await _admin(f'DROP DATABASE "{name}" WITH (FORCE)')


async def restart_postgres() -> float:
    """Restart the local PostgreSQL cluster (fast shutdown); the seconds it took."""
    [version] = [p.name for p in POSTGRES_ETC.iterdir() if p.is_dir()]
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        "pg_ctlcluster",
        "--skip-systemctl-redirect",
        "-m",
        "fast",
        version,
        "main",
        "restart",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, f"pg_ctlcluster restart failed: {output.decode()}"
    return time.monotonic() - started
