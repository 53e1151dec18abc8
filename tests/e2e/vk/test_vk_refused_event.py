"""An event the database refuses does not stop the long poll: before, the same ts was
asked for again and again and nothing after the event was ever answered."""

from core.inbox import InboxRepository, InboxStatus
from core.outbox import OutboxRepository
from tests.fakes import EchoDialogue, conversation_service
from tests.integration.test_inbox import refuse_key

ANNA = 5001


async def test_a_refused_event_is_set_aside_and_the_next_ones_are_answered(
    vk, run_bot, postgres_sessions, postgres_server_url
):
    await refuse_key(postgres_sessions, postgres_server_url, "refused-event")
    service = conversation_service(postgres_sessions, EchoDialogue())
    inbox = InboxRepository(postgres_sessions)
    bot = run_bot(service, inbox=inbox, outbox=OutboxRepository(postgres_sessions))
    async with bot:
        vk.send_text(ANNA, "Вопрос, который база не примет", event_id="refused-event")
        vk.send_text(ANNA, "Следующий вопрос")
        [sent] = await vk.wait_sent(ANNA)
    assert sent.text == "Ответ на вопрос: Следующий вопрос"
    assert await inbox.counts("vk") == {InboxStatus.DONE: 1, InboxStatus.QUARANTINED: 1}
