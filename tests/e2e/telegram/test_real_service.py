"""The Telegram channel with the real conversation service, the demo knowledge base with
its recorded thresholds and the database, built by the composition root exactly as
``djinn run`` builds them."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bots.app import Services, open_services
from core.domain import DeliveryStatus, Direction, Feedback
from core.models import Message, SearchLog
from core.settings import Settings
from nlu import texts
from tests.conftest import faq_answer
from tests.e2e.telegram.conftest import RunningBot, fake_api_values

QUESTION = "здравствуйте, куда платить за квартиру и свет?"
ENTRY = "zhkh-pay-utilities"


@pytest.fixture
async def services(tg, demo_settings, embedder) -> AsyncIterator[Services]:
    settings = Settings(_env_file=None, **{**dict(demo_settings), **fake_api_values(tg)})
    async with open_services(settings, with_redis=False, embedder=embedder) as services:
        yield services


async def ask(tg, start_bot, services: Services, question: str) -> tuple[RunningBot, dict]:
    bot = await start_bot(
        settings=services.settings,
        handler=services.conversation,
        inbox=services.inbox,
        outbox=services.outbox,
    )
    tg.citizen(1001, "Анна").send_text(question)
    [reply] = await tg.wait_for_messages(1001, 1, timeout=10)
    return bot, reply


async def outbound(services: Services) -> list[Message]:
    async with services.sessions() as session:
        query = select(Message).where(Message.direction == Direction.OUT).order_by(Message.id)
        return list((await session.scalars(query)).all())


async def test_faq_question_gets_the_faq_answer(tg, services, start_bot):
    bot, reply = await ask(tg, start_bot, services, QUESTION)
    answer = await faq_answer(services, ENTRY)
    assert reply["text"] == answer
    labels = [b["text"] for row in reply["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [texts.BUTTON_HELPED, texts.BUTTON_NOT_HELPED, texts.BUTTON_OPERATOR]
    await bot.shutdown()  # lets the delivery be recorded
    [stored] = await outbound(services)
    assert (stored.text, stored.delivery_status) == (answer, DeliveryStatus.SENT)
    assert stored.external_id == str(reply["message_id"])


async def test_not_helped_is_recorded_in_the_search_log(tg, services, start_bot):
    bot, reply = await ask(tg, start_bot, services, QUESTION)
    [not_helped] = [
        button["callback_data"]
        for row in reply["reply_markup"]["inline_keyboard"]
        for button in row
        if button["text"] == texts.BUTTON_NOT_HELPED
    ]
    press = tg.citizen(1001).press_button(reply, not_helped)
    _, after = await tg.wait_for_messages(1001, 2, timeout=10)
    assert after["text"] in (texts.NOT_HELPED, texts.NOT_HELPED_BARE)
    assert press["callback_query"]["id"] in tg.state.callback_answers
    await bot.shutdown()
    async with services.sessions() as session:
        [log] = (await session.scalars(select(SearchLog))).all()
    assert (log.query, log.feedback) == (QUESTION, Feedback.NOT_HELPED)
    assert [m.delivery_status for m in await outbound(services)] == [DeliveryStatus.SENT] * 2


async def test_the_turn_and_the_delivery_are_counted_in_the_metrics(tg, services, start_bot):
    bot = await start_bot(
        settings=services.settings,
        handler=services.conversation,
        inbox=services.inbox,
        outbox=services.outbox,
        metrics=services.metrics,
    )
    tg.fail_next("sendMessage", status=502)
    tg.citizen(1001, "Анна").send_text(QUESTION)
    await tg.wait_for_messages(1001, 1, timeout=10)
    await bot.shutdown()
    registry = services.metrics.registry
    labels = {"channel": "telegram"}
    assert registry.get_sample_value("djinn_messages_in_total", labels) == 1
    assert registry.get_sample_value("djinn_turn_seconds_count", labels) == 1
    sent = {**labels, "status": "sent"}
    assert registry.get_sample_value("djinn_messages_out_total", sent) == 1
    retried = {**labels, "reason": "unavailable"}
    assert registry.get_sample_value("djinn_reply_retries_total", retried) == 1
    assert registry.get_sample_value("djinn_reply_latency_seconds_count", labels) == 1
