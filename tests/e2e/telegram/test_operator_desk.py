"""Escalated conversations reach the operator group: through the real conversation
service, database, Redis streams and aiogram client, into the fake Bot API's forum."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import select

from bots.app import Services, open_services
from bots.outbox import Pacer
from bots.telegram.operators import OperatorDesk
from core.domain import Channel, MessageKind
from core.models import Conversation
from handoff.events import HandoffEventRepository
from handoff.queue import ConsumerPolicy, HandoffConsumer, HandoffRelay, HandoffStreams
from nlu import texts
from nlu.payloads import Action, decode
from tests.factories import make_message
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tools.fake_telegram.limits import RateLimits

GROUP = -1009876543210


@pytest.fixture
async def services(demo_settings, embedder) -> AsyncIterator[Services]:
    async with open_services(demo_settings, with_redis=False, embedder=embedder) as services:
        await services.faq.refresh()
        yield services


@pytest.fixture
def streams(handoff_streams: HandoffStreams) -> HandoffStreams:
    return handoff_streams


@contextlib.asynccontextmanager
async def operators_at_work(
    tg: FakeTelegram, services: Services, streams: HandoffStreams, pacer: Pacer | None = None
) -> AsyncIterator[None]:
    """The relay, one consumer and the desk, as the bot process runs them."""
    server = TelegramAPIServer.from_base(tg.api_url)
    events = HandoffEventRepository(services.sessions)
    stop = asyncio.Event()
    async with Bot(DEFAULT_TOKEN, session=AiohttpSession(api=server)) as bot:
        desk = OperatorDesk(bot, services.sessions, GROUP, pacer)
        policy = ConsumerPolicy(concurrency=4, retry_delay=0.5, block=0.1)
        workers = [
            HandoffRelay(streams, events, interval=0.05),
            HandoffConsumer(streams, events, desk, "desk-test", policy),
        ]
        tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)


async def ask_for_operator(services: Services, user_id: str, channel=Channel.TELEGRAM) -> None:
    [answer] = await services.conversation.handle(
        make_message("Как оплатить коммунальные услуги?", user_id=user_id, channel=channel)
    )
    operator = next(
        b.payload
        for row in answer.buttons
        for b in row
        if decode(b.payload).action == Action.OPERATOR
    )
    [reply] = await services.conversation.handle(
        make_message(
            "кнопка", user_id=user_id, channel=channel, kind=MessageKind.BUTTON, payload=operator
        )
    )
    assert reply.text == texts.OPERATOR_REQUESTED


async def test_a_citizen_who_asks_for_an_operator_gets_a_topic_with_a_card(services, streams):
    async with FakeTelegram() as tg:
        tg.operator_group(GROUP)
        async with operators_at_work(tg, services, streams):
            await ask_for_operator(services, "1001")
            await services.conversation.handle(make_message("У меня ещё вопрос", user_id="1001"))
            await tg.wait_until(lambda: len(tg.state.sent.get(GROUP, [])) >= 3, 20)

        [topic] = tg.topics(GROUP)
        card, relayed = tg.topic_messages(GROUP, topic.thread_id)
    assert topic.name.startswith("№") and " · TG · " in topic.name
    assert topic.name.endswith("🆕")
    assert "Гражданин: Анна" in card["text"]
    assert "Вопрос: Как оплатить коммунальные услуги?" in card["text"]
    assert "гражданин попросил оператора" in card["text"]
    assert relayed["text"] == "Гражданин: У меня ещё вопрос"


async def test_ten_messages_at_once_make_one_topic_and_arrive_in_order(services, streams):
    async with FakeTelegram(rate_limits=None) as tg:
        tg.operator_group(GROUP)
        await ask_for_operator(services, "1002")
        texts_sent = [f"Сообщение {n}" for n in range(10)]
        await asyncio.gather(
            *(
                services.conversation.handle(make_message(text, user_id="1002"))
                for text in texts_sent
            )
        )  # stored within a few milliseconds, before any consumer runs
        async with operators_at_work(tg, services, streams):
            await tg.wait_until(lambda: len(tg.state.sent.get(GROUP, [])) >= 12, 20)
            await asyncio.sleep(0.5)

        [topic] = tg.topics(GROUP)
        relayed = [m["text"] for m in tg.topic_messages(GROUP, topic.thread_id)[1:]]
    assert sorted(relayed) == sorted(f"Гражданин: {t}" for t in texts_sent)
    assert len(tg.requests("createForumTopic")) == 1


async def test_a_topic_deleted_by_hand_is_created_again_with_its_card(services, streams):
    async with FakeTelegram(rate_limits=None) as tg:
        tg.operator_group(GROUP)
        async with operators_at_work(tg, services, streams):
            await ask_for_operator(services, "1003")
            await tg.wait_until(lambda: len(tg.topics(GROUP)) == 1, 20)
            [first] = tg.topics(GROUP)
            await tg.wait_until(lambda: len(tg.topic_messages(GROUP, first.thread_id)) == 1)
            tg.delete_topic_by_hand(GROUP, first.thread_id)

            await services.conversation.handle(make_message("Вы тут?", user_id="1003"))
            await tg.wait_until(lambda: len(tg.topics(GROUP)) == 1, 20)
            [second] = tg.topics(GROUP)
            await tg.wait_until(lambda: len(tg.topic_messages(GROUP, second.thread_id)) == 2)

        card, relayed = tg.topic_messages(GROUP, second.thread_id)
    assert second.thread_id != first.thread_id
    assert card["text"].startswith("Обращение №")
    assert relayed["text"] == "Гражданин: Вы тут?"


async def test_a_group_over_its_flood_limit_waits_and_loses_nothing(services, streams):
    """The desk's own pacing is lifted here, so the fake's 429s are what it meets."""
    async with FakeTelegram(rate_limits=RateLimits(per_group=4, group_window=2.0)) as tg:
        tg.operator_group(GROUP)
        await ask_for_operator(services, "1004")
        for n in range(6):
            await services.conversation.handle(make_message(f"Подробность {n}", user_id="1004"))
        async with operators_at_work(tg, services, streams, Pacer(1000)):
            await tg.wait_until(lambda: len(tg.state.sent.get(GROUP, [])) >= 8, 30)

        [topic] = tg.topics(GROUP)
        relayed = [m["text"] for m in tg.topic_messages(GROUP, topic.thread_id)[1:]]
    assert any(r.status == 429 for r in tg.requests())
    assert relayed == [f"Гражданин: Подробность {n}" for n in range(6)]


async def test_a_vk_citizens_topic_says_vk_and_describes_a_photo(services, streams):
    async with FakeTelegram(rate_limits=None) as tg:
        tg.operator_group(GROUP)
        async with operators_at_work(tg, services, streams):
            await ask_for_operator(services, "5001", Channel.VK)
            await services.conversation.handle(
                make_message("", user_id="5001", channel=Channel.VK, kind=MessageKind.PHOTO)
            )
            await tg.wait_until(lambda: len(tg.state.sent.get(GROUP, [])) >= 3, 20)

        [topic] = tg.topics(GROUP)
        card, photo = tg.topic_messages(GROUP, topic.thread_id)
    assert " · VK · " in topic.name
    assert "Канал: ВКонтакте" in card["text"]
    assert photo["text"] == "Гражданин: [фото]"


async def test_a_request_withdrawn_before_the_desk_saw_it_makes_no_topic(services, streams):
    async with FakeTelegram(rate_limits=None) as tg:
        tg.operator_group(GROUP)
        await ask_for_operator(services, "1005")
        async with services.sessions.begin() as session:
            conversation = await session.scalar(
                select(Conversation.id).order_by(Conversation.id.desc())
            )
            assert await services.handoff.cancel_request(session, conversation)
        await ask_for_operator(services, "1006")  # a request still waiting
        async with operators_at_work(tg, services, streams):
            await tg.wait_until(lambda: len(tg.topics(GROUP)) == 1, 20)
            await tg.wait_until(
                lambda: len(tg.topic_messages(GROUP, tg.topics(GROUP)[0].thread_id)) == 1, 20
            )
            events = HandoffEventRepository(services.sessions)
            for _ in range(100):
                if not await events.unapplied():
                    break
                await asyncio.sleep(0.1)
            assert await events.unapplied() == 0  # the withdrawn one's events were applied
        [topic] = tg.topics(GROUP)
    assert len(tg.requests("createForumTopic")) == 1
    assert topic.name.split(" ")[0] != f"№{conversation}"
