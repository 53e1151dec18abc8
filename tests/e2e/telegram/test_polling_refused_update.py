"""An update the database refuses does not stop polling: before, put_many raised, the
poll loop retried the same batch forever and the offset never moved."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from bots.conversation import ConversationService
from core import migrate
from core.db import SessionFactory, create_engine, create_session_factory
from core.inbox import InboxRepository, InboxStatus
from core.outbox import OutboxRepository
from tests.fakes import EchoDialogue, conversation_service
from tests.integration.test_inbox import refuse_key


@pytest.fixture
async def pg_sessions(postgres_server_url) -> AsyncIterator[SessionFactory]:
    engine = create_engine(postgres_server_url)
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def test_a_refused_update_is_set_aside_and_the_next_ones_are_answered(
    tg, start_bot, pg_sessions, postgres_server_url
):
    service: ConversationService = conversation_service(pg_sessions, EchoDialogue())
    inbox = InboxRepository(pg_sessions)
    anna = tg.citizen(1001)
    before = anna.send_text("Первый вопрос")
    await refuse_key(pg_sessions, postgres_server_url, str(before["update_id"] + 1))
    anna.send_text("Вопрос, который база не примет")
    anna.send_text("Третий вопрос")
    bot = await start_bot(handler=service, inbox=inbox, outbox=OutboxRepository(pg_sessions))
    replies = await tg.wait_for_messages(1001, 2, timeout=10)
    assert [m["text"] for m in replies] == [
        "Ответ на вопрос: Первый вопрос",
        "Ответ на вопрос: Третий вопрос",
    ]
    await tg.wait_until(lambda: not tg.state.queue, what="every update to be acknowledged")
    await bot.shutdown()
    counts = await inbox.counts("telegram")
    assert counts == {InboxStatus.DONE: 2, InboxStatus.QUARANTINED: 1}
