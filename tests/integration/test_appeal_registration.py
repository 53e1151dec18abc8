"""Registering appeals on SQLite and PostgreSQL: a draft submitted again (a dialogue turn
repeated or rewound after the action server stored it) is one appeal with one number."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from core import migrate
from core.appeals import AppealDraft, AppealRepository
from core.conversations import ConversationRepository
from core.db import SessionFactory, create_engine, create_session_factory
from core.models import Appeal
from tests.factories import make_message

CONSENT_AT = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)


@pytest.fixture
async def engine(database_url) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine) -> SessionFactory:
    return create_session_factory(engine)


@pytest.fixture
async def draft(sessions) -> AppealDraft:
    stored = await ConversationRepository(sessions).store_inbound(make_message("привет"))
    assert stored is not None
    return AppealDraft(
        conversation_id=stored.conversation.id,
        category="roads",
        address="ул. Ленина, 12",
        description="Яма у подъезда",
        photos=[{"file_id": "AgAD-photo"}],
        phone="+79123456789",
        consent_at=CONSENT_AT,
        consent_text="согласие",
    )


async def numbers(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(Appeal.number).order_by(Appeal.id))).all())


async def test_the_same_draft_twice_is_one_appeal_with_one_number(sessions, draft):
    repository = AppealRepository(sessions)
    first = await repository.register(draft)
    again = await repository.register(
        dataclasses.replace(draft, photos=[{"file_id": "AgAD-photo"}])
    )
    assert again.number == first.number
    assert await numbers(sessions) == [first.number]


@pytest.mark.parametrize(
    "change",
    [
        {"consent_at": CONSENT_AT + timedelta(minutes=5)},
        {"address": "ул. Ленина, 21"},
        {"description": "Яма у второго подъезда"},
        {"category": "improvement"},
        {"photos": []},
        {"phone": "+79000000000"},
    ],
    ids=["new-consent", "address", "description", "category", "photo", "phone"],
)
async def test_a_different_draft_is_a_second_appeal(sessions, draft, change):
    repository = AppealRepository(sessions)
    first = await repository.register(draft)
    second = await repository.register(dataclasses.replace(draft, **change))
    assert second.number != first.number
    assert await numbers(sessions) == [first.number, second.number]


async def test_the_same_consent_time_in_another_zone_is_the_same_draft(sessions, draft):
    repository = AppealRepository(sessions)
    first = await repository.register(draft)
    moscow = CONSENT_AT.astimezone(timezone(timedelta(hours=3)))
    again = await repository.register(dataclasses.replace(draft, consent_at=moscow))
    assert again.number == first.number
    assert await numbers(sessions) == [first.number]


async def test_concurrent_registrations_of_one_draft_store_one_row(engine, sessions, draft):
    """Both registrations pass the look-up of the key before either inserts (a barrier
    at the INSERT), so one of them meets the unique key and returns the other's appeal."""
    barrier = asyncio.Barrier(2)
    inserts: list[int] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def meet_before_insert(_c: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO APPEALS"):
            inserts.append(1)
            if len(inserts) <= 2:
                await_only(asyncio.wait_for(barrier.wait(), 30))

    # Two repositories with session factories of their own stand for two action server
    # processes (in one process, SQLite's writers queue at the factory's write gate).
    other = create_session_factory(engine)
    first, second = await asyncio.gather(
        AppealRepository(sessions).register(draft), AppealRepository(other).register(draft)
    )
    event.remove(engine.sync_engine, "before_cursor_execute", meet_before_insert)
    assert len(inserts) == 2, "both registrations tried to insert"
    assert first.number == second.number
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Appeal)) == 1
