"""The VK channel with the real conversation service, the demo knowledge base with its
recorded thresholds and the database, built by the composition root as ``djinn run``
builds them."""

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bots.app import Services, open_services
from core.domain import DeliveryStatus, Direction, Feedback
from core.models import Message, SearchLog
from core.settings import Settings
from nlu import texts
from tests.conftest import faq_answer
from tests.e2e.vk.conftest import RunningVkBot, fake_api_values

ANNA = 5001
QUESTION = "здравствуйте, куда платить за квартиру и свет?"
ENTRY = "zhkh-pay-utilities"


@pytest.fixture
async def services(vk, demo_settings, embedder) -> AsyncIterator[Services]:
    settings = Settings(_env_file=None, **{**dict(demo_settings), **fake_api_values(vk)})
    async with open_services(settings, with_redis=False, embedder=embedder) as services:
        yield services


@pytest.fixture
async def real_bot(vk, services) -> AsyncIterator[RunningVkBot]:
    handler, inbox, outbox = services.conversation, services.inbox, services.outbox
    async with RunningVkBot(vk, services.settings, handler, inbox, outbox) as bot:
        yield bot


async def outbound(services: Services) -> list[Message]:
    async with services.sessions() as session:
        query = select(Message).where(Message.direction == Direction.OUT).order_by(Message.id)
        return list((await session.scalars(query)).all())


def labels(keyboard: dict) -> list[str]:
    return [button["action"]["label"] for row in keyboard["buttons"] for button in row]


async def test_start_button_gets_the_welcome(vk, services, real_bot):
    vk.send_text(ANNA, "Начать", payload={"command": "start"})

    [sent] = await vk.wait_sent(ANNA, guard=10)

    assert sent.text == texts.welcome(services.settings.org_name)


async def test_faq_question_gets_the_faq_answer(vk, services, real_bot):
    vk.send_text(ANNA, QUESTION)

    [sent] = await vk.wait_sent(ANNA, guard=10)
    await real_bot.shutdown()  # lets the delivery be recorded

    answer = await faq_answer(services, ENTRY)
    assert sent.text == answer
    assert labels(sent.keyboard) == [
        texts.BUTTON_HELPED,
        texts.BUTTON_NOT_HELPED,
        texts.BUTTON_OPERATOR,
    ]
    [stored] = await outbound(services)
    assert (stored.text, stored.delivery_status) == (answer, DeliveryStatus.SENT)
    assert stored.external_id == str(sent.id)


async def test_not_helped_is_recorded_in_the_search_log(vk, services, real_bot):
    vk.send_text(ANNA, QUESTION)
    [answer] = await vk.wait_sent(ANNA, guard=10)
    [not_helped] = [
        button["action"]
        for row in answer.keyboard["buttons"]
        for button in row
        if button["action"]["label"] == texts.BUTTON_NOT_HELPED
    ]

    vk.press_button(ANNA, not_helped["label"], not_helped["payload"])
    _, after = await vk.wait_sent(ANNA, 2, guard=10)
    await real_bot.shutdown()

    assert after.text in (texts.NOT_HELPED, texts.NOT_HELPED_BARE)
    async with services.sessions() as session:
        [log] = (await session.scalars(select(SearchLog))).all()
    assert (log.query, log.feedback) == (QUESTION, Feedback.NOT_HELPED)
    assert json.loads(not_helped["payload"]) == {"c": f"fn:{log.id}"}
    assert [m.delivery_status for m in await outbound(services)] == [DeliveryStatus.SENT] * 2
