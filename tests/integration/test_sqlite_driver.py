"""SQLite through `core.sqlite_driver`: one hop to aiosqlite's thread a statement, and
the same results, errors and transactions as the plain adapter."""

from collections.abc import AsyncIterator

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import create_engine
from core.sqlite_driver import OneHopCursor


@pytest.fixture
async def engine(tmp_path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    async with engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
        )
    yield engine
    await engine.dispose()


@pytest.fixture
def hops(monkeypatch) -> list[str]:
    """Every call queued on an aiosqlite connection's thread, by the function's name."""
    calls: list[str] = []
    queue = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await queue(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return calls


async def test_the_engine_uses_the_one_hop_cursor(engine):
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, aiosqlite.Connection)
        assert isinstance(raw.dbapi_connection.cursor(), OneHopCursor)


async def test_a_statement_is_one_hop_and_a_transaction_one_more(engine, hops):
    async with engine.begin() as connection:
        inserted = await connection.execute(
            text("INSERT INTO notes (body) VALUES (:body) RETURNING id"), {"body": "первая"}
        )
        assert inserted.scalar_one() == 1
        updated = await connection.execute(
            text("UPDATE notes SET body = body || '!' WHERE id = :id"), {"id": 1}
        )
        assert updated.rowcount == 1
    # two statements and the commit; the pool's rollback of a committed connection
    # costs nothing
    assert hops == ["_run", "_run", "commit"]
    hops.clear()
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT id, body FROM notes"))).all()
    assert [tuple(r) for r in rows] == [(1, "первая!")]
    assert hops == ["_run"]


async def test_results_match_what_the_statement_did(engine):
    async with engine.begin() as connection:
        many = await connection.execute(
            text("INSERT INTO notes (body) VALUES (:body)"),
            [{"body": f"заметка {i}"} for i in range(5)],
        )
        assert many.rowcount == 5
        single = await connection.execute(text("INSERT INTO notes (body) VALUES ('ещё')"))
        assert single.lastrowid == 6
        result = await connection.execute(text("SELECT id AS number, body FROM notes ORDER BY id"))
        assert list(result.keys()) == ["number", "body"]
        assert [row.number for row in result] == [1, 2, 3, 4, 5, 6]
        nothing = await connection.execute(text("SELECT id FROM notes WHERE id > 100"))
        assert nothing.first() is None
        deleted = await connection.execute(text("DELETE FROM notes WHERE id <= 2"))
        assert deleted.rowcount == 2
    async with engine.connect() as connection:
        streamed = await connection.stream(text("SELECT body FROM notes ORDER BY id"))
        assert [row.body async for row in streamed] == [
            "заметка 2", "заметка 3", "заметка 4", "ещё",
        ]  # fmt: skip


async def test_errors_and_rollbacks_are_the_plain_adapters(engine):
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES ('одна')"))
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO notes (body) VALUES ('другая')"))
            await connection.execute(text("INSERT INTO notes (body) VALUES ('одна')"))
    with pytest.raises(OperationalError):
        async with engine.connect() as connection:
            await connection.execute(text("SELECT nothing FROM nowhere"))
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT body FROM notes"))).scalars().all() == [
            "одна"
        ]  # the failed transaction left nothing behind
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES ('брошенная')"))
        await connection.rollback()
        assert await connection.scalar(text("SELECT count(*) FROM notes")) == 1


async def test_a_closed_connection_says_so(engine):
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        await raw.driver_connection.close()
        with pytest.raises(OperationalError):
            await connection.execute(text("SELECT 1"))
        await connection.invalidate()
