"""The engine every process uses: durable SQLite commits, and no bound values in errors."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core import migrate
from core.db import create_engine, create_session_factory
from core.models import Citizen, Conversation, Identity, Message

PHONE = "+79161234567"
ADDRESS = "ул. Садовая, д. 17, кв. 4"


async def test_sqlite_commits_are_synchronous_full_by_default(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        async with engine.connect() as connection:
            assert (await connection.scalar(text("PRAGMA synchronous"))) == 2  # FULL
            assert (await connection.scalar(text("PRAGMA journal_mode"))) == "wal"
    finally:
        await engine.dispose()


async def test_sqlite_synchronous_can_be_lowered_for_benchmarks(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}", synchronous="NORMAL")
    try:
        async with engine.connect() as connection:
            assert (await connection.scalar(text("PRAGMA synchronous"))) == 1
    finally:
        await engine.dispose()
    with pytest.raises(ValueError):
        create_engine("sqlite+aiosqlite://", synchronous="OFF; DROP TABLE messages")


async def test_database_errors_do_not_carry_citizens_data(database_url):
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        sessions = create_session_factory(engine)
        async with sessions.begin() as session:
            citizen = Citizen()
            session.add(citizen)
            await session.flush()
            identity = Identity(
                citizen_id=citizen.id, channel="telegram", external_id="1", chat_id="1"
            )
            session.add(identity)
            await session.flush()
            conversation = Conversation(identity_id=identity.id, channel="telegram", status="bot")
            session.add(conversation)
            await session.flush()
            conversation_id = conversation.id
        row = {
            "conversation_id": conversation_id,
            "channel": "telegram",
            "direction": "in",
            "kind": "text",
            "chat_id": "1",
            "dedup_key": "same",
            "text": f"Мой телефон {PHONE}, адрес {ADDRESS}",
        }
        async with sessions.begin() as session:
            session.add(Message(**row))
        with pytest.raises(IntegrityError) as caught:
            async with sessions.begin() as session:
                session.add(Message(**row))
        shown = str(caught.value) + repr(caught.value)
        assert PHONE not in shown and ADDRESS not in shown
        assert "hidden due to hide_parameters" in shown
    finally:
        await engine.dispose()
