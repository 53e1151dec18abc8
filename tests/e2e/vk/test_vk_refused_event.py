"""An event the database refuses does not stop the long poll: before, the same ts was
asked for again and again and nothing after the event was ever answered."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from core import migrate
from core.db import SessionFactory, create_engine, create_session_factory
from core.inbox import InboxRepository, InboxStatus
from core.outbox import OutboxRepository
from tests.fakes import EchoDialogue, conversation_service
from tests.integration.test_inbox import refuse_key

ANNA = 5001


@pytest.fixture
async def pg_sessions(postgres_server_url) -> AsyncIterator[SessionFactory]:
    engine = create_engine(postgres_server_url)
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def test_a_refused_event_is_set_aside_and_the_next_ones_are_answered(
    vk, run_bot, pg_sessions, postgres_server_url
):
    await refuse_key(pg_sessions, postgres_server_url, "refused-event")
    service = conversation_service(pg_sessions, EchoDialogue())
    inbox = InboxRepository(pg_sessions)
    bot = run_bot(service, inbox=inbox, outbox=OutboxRepository(pg_sessions))
    async with bot:
        vk.send_text(ANNA, "Вопрос, который база не примет", event_id="refused-event")
        vk.send_text(ANNA, "Следующий вопрос")
        [sent] = await vk.wait_sent(ANNA)
    assert sent.text == "Ответ на вопрос: Следующий вопрос"
    assert await inbox.counts("vk") == {InboxStatus.DONE: 1, InboxStatus.QUARANTINED: 1}
