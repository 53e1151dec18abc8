"""An update the database refuses does not stop polling: before, put_many raised, the
poll loop retried the same batch forever and the offset never moved."""

from bots.conversation import ConversationService
from core.inbox import InboxRepository, InboxStatus
from core.outbox import OutboxRepository
from tests.fakes import EchoDialogue, conversation_service
from tests.integration.test_inbox import refuse_key


async def test_a_refused_update_is_set_aside_and_the_next_ones_are_answered(
    tg, start_bot, postgres_sessions, postgres_server_url
):
    service: ConversationService = conversation_service(postgres_sessions, EchoDialogue())
    inbox = InboxRepository(postgres_sessions)
    anna = tg.citizen(1001)
    before = anna.send_text("Первый вопрос")
    await refuse_key(postgres_sessions, postgres_server_url, str(before["update_id"] + 1))
    anna.send_text("Вопрос, который база не примет")
    anna.send_text("Третий вопрос")
    bot = await start_bot(handler=service, inbox=inbox, outbox=OutboxRepository(postgres_sessions))
    replies = await tg.wait_for_messages(1001, 2, timeout=10)
    assert [m["text"] for m in replies] == [
        "Ответ на вопрос: Первый вопрос",
        "Ответ на вопрос: Третий вопрос",
    ]
    await tg.wait_until(lambda: not tg.state.queue, what="every update to be acknowledged")
    await bot.shutdown()
    counts = await inbox.counts("telegram")
    assert counts == {InboxStatus.DONE: 2, InboxStatus.QUARANTINED: 1}
