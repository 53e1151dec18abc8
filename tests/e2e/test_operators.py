"""Operators end to end: the bot process as `djinn run` composes it (real database,
real Redis, the real aiogram and vkbottle clients) against the fake Bot API and the fake
VK API. A citizen asks for an operator, a topic with a card appears in the operator
group, an operator takes it and answers, and the answer reaches the citizen on the
citizen's own channel; internal notes stay in the group; «Вернуть боту» and «Закрыть»
end the conversation as they should, and the citizen's rating is stored."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select

from bots.app import Services, open_services
from bots.cli.run import _serve_channels
from core.models import AuditEntry, Conversation, HandoffCase, Message
from core.settings import Settings
from nlu import texts
from nlu.payloads import Action, decode
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tools.fake_telegram.citizens import Citizen
from tools.fake_vk import FakeVk

GROUP = -1001111111111
QUESTION = "Как оплатить коммунальные услуги?"


@dataclass
class Desk:
    tg: FakeTelegram
    vk: FakeVk | None
    services: Services

    def topic_texts(self) -> list[str]:
        [topic] = self.tg.topics(GROUP)
        return [
            m.get("text") or m.get("caption") or ""
            for m in self.tg.topic_messages(GROUP, topic.thread_id)
        ]

    async def wait_topic_text(self, fragment: str, timeout: float = 20) -> None:
        await self.tg.wait_until(
            lambda: self.tg.topics(GROUP) and any(fragment in t for t in self.topic_texts()),
            timeout,
            f"«{fragment}» in the topic",
        )

    def card(self) -> dict[str, Any]:
        [topic] = self.tg.topics(GROUP)
        return next(
            m for m in self.tg.topic_messages(GROUP, topic.thread_id) if m.get("reply_markup")
        )

    def thread(self) -> int:
        [topic] = self.tg.topics(GROUP)
        return topic.thread_id

    async def case(self) -> HandoffCase:
        async with self.services.sessions() as session:
            return (await session.scalars(select(HandoffCase).order_by(HandoffCase.id))).all()[-1]


@contextlib.asynccontextmanager
async def running_desk(
    demo_settings: Settings, embedder: Any, tmp_path: Path, *, with_vk: bool = False
) -> AsyncIterator[Desk]:
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    async with contextlib.AsyncExitStack() as stack:
        tg = await stack.enter_async_context(FakeTelegram())
        tg.operator_group(GROUP)
        values: dict[str, Any] = {
            **dict(demo_settings),
            "telegram_bot_token": DEFAULT_TOKEN,
            "telegram_api_url": tg.api_url,
            "operator_chat_id": GROUP,
            "redis_url": "redis://127.0.0.1:6379/0",
            "redis_namespace": namespace,
            "metrics_port": 0,
        }
        vk = None
        if with_vk:
            vk = await stack.enter_async_context(FakeVk())
            values |= {
                "vk_group_token": vk.token,
                "vk_group_id": vk.group_id,
                "vk_api_url": vk.api_url,
            }
        settings = Settings(_env_file=None, **values)
        services = await stack.enter_async_context(
            open_services(settings, embedder=embedder, with_rasa=False)
        )
        stop = asyncio.Event()
        channels = ["telegram", "vk"] if with_vk else ["telegram"]
        task = asyncio.create_task(_serve_channels(settings, services, channels, stop))
        try:
            yield Desk(tg, vk, services)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
            redis = Redis.from_url("redis://127.0.0.1:6379/0")
            keys = [key async for key in redis.scan_iter(f"{namespace}:*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()


def button(message: dict[str, Any], prefix: str) -> str:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return next(
        b["callback_data"] for row in rows for b in row if b["callback_data"].startswith(prefix)
    )


async def tg_citizen_asks_for_operator(desk: Desk, citizen: Citizen) -> None:
    tg = desk.tg
    citizen.send_text(QUESTION)
    [answer] = await tg.wait_for_messages(citizen.chat_id, 1, 20)
    operator = next(
        b["callback_data"]
        for row in answer["reply_markup"]["inline_keyboard"]
        for b in row
        if getattr(decode(b["callback_data"]), "action", None) == Action.OPERATOR
    )
    citizen.press_button(answer, operator)
    await tg.wait_for_messages(citizen.chat_id, 2, 20)
    assert tg.state.sent[citizen.chat_id][1]["text"].startswith(texts.OPERATOR_REQUESTED[:30])
    await desk.wait_topic_text("Обращение №")


async def wait_citizen_text(tg: FakeTelegram, chat_id: int, fragment: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next(
            (
                m
                for m in tg.state.sent.get(chat_id, [])
                if fragment in (m.get("text") or m.get("caption") or "")
            ),
            None,
        )

    await tg.wait_until(lambda: found() is not None, 20, f"«{fragment}» to the citizen")
    message = found()
    assert message is not None
    return message


async def test_a_telegram_citizen_gets_an_operator_and_rates_the_help(
    demo_settings, embedder, tmp_path
):
    async with running_desk(demo_settings, embedder, tmp_path) as desk:
        tg = desk.tg
        citizen = tg.citizen(501, "Анна")
        await tg_citizen_asks_for_operator(desk, citizen)
        card = desk.card()
        assert "Гражданин: Анна" in card["text"] and f"Вопрос: {QUESTION}" in card["text"]
        topic_name = tg.topics(GROUP)[0].name
        assert " · TG" in topic_name and topic_name.endswith("🆕")

        olga = tg.operator(9001, "Ольга", GROUP)
        ivan = tg.operator(9002, "Иван", GROUP)
        olga.press_button(card, button(card, "ot:"))
        # Another operator pressing «Взять» a moment later is told who has it.
        late = ivan.press_button(card, button(card, "ot:"))["callback_query"]["id"]
        await wait_citizen_text(tg, citizen.chat_id, texts.OPERATOR_JOINED)
        await desk.wait_topic_text("Обращение взял(а) Ольга")
        await tg.wait_until(lambda: late in tg.state.callback_answers, 20, "Ivan's answer")
        assert tg.state.callback_answers[late]["text"] == "Обращение уже взял(а) Ольга."
        assert tg.state.callback_answers[late]["show_alert"] is True
        await tg.wait_until(lambda: tg.topics(GROUP)[0].name.endswith("👤"), 20, "renamed")
        assert not any(
            b["callback_data"].startswith("ot:")
            for row in desk.card()["reply_markup"]["inline_keyboard"]
            for b in row
        )  # the card lost its «Взять»
        thread = desk.thread()
        olga.write(thread, "!проверю в реестре, минуту")
        olga.write(thread, "Здравствуйте! Оплатить можно в приложении банка или в МФЦ.")
        await wait_citizen_text(tg, citizen.chat_id, "Оплатить можно в приложении банка")
        citizen_texts = [m.get("text") for m in tg.state.sent[citizen.chat_id]]
        assert not any("реестре" in (t or "") for t in citizen_texts)

        # A photo both ways.
        citizen.send_photo("Вот квитанция")
        await tg.wait_until(
            lambda: any(m.get("photo") for m in tg.topic_messages(GROUP, thread)), 20, "photo"
        )
        olga.write_media(
            thread,
            photo=[{"file_id": "op-photo", "file_unique_id": "u-op", "width": 800, "height": 600}],
            caption="Образец",
        )
        await tg.wait_until(
            lambda: any(m.get("photo") for m in tg.state.sent[citizen.chat_id]), 20, "photo"
        )

        # Close: the citizen rates 1–5 and adds a comment.
        olga.press_button(desk.card(), button(desk.card(), "oc:"))
        closing = await wait_citizen_text(tg, citizen.chat_id, texts.CLOSED_BY_OPERATOR[:30])
        five = button(closing, "rt:").rsplit(":", 1)[0] + ":5"
        citizen.press_button(closing, five)
        await wait_citizen_text(tg, citizen.chat_id, texts.RATED[:20])
        citizen.send_text("Ответили быстро, спасибо")
        await wait_citizen_text(tg, citizen.chat_id, texts.COMMENT_THANKS)
        await desk.wait_topic_text("закрыл(а) обращение")
        topic = tg.topics(GROUP)[0]
        assert topic.closed and topic.name.endswith("✅")

        case = await desk.case()
        assert (case.operator_name, case.csat_score) == ("Ольга", 5)
        assert case.csat_comment == "Ответили быстро, спасибо"
        assert case.first_response_at is not None and case.outcome == "closed"
        async with desk.services.sessions() as session:
            actions = (
                await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))
            ).all()
        assert actions == ["assign", "close"]


async def test_an_operator_returns_the_conversation_to_the_bot(demo_settings, embedder, tmp_path):
    async with running_desk(demo_settings, embedder, tmp_path) as desk:
        tg = desk.tg
        citizen = tg.citizen(502, "Пётр")
        await tg_citizen_asks_for_operator(desk, citizen)
        olga = tg.operator(9001, "Ольга", GROUP)
        olga.write(desk.thread(), "Уточните, пожалуйста, адрес.")
        await wait_citizen_text(tg, citizen.chat_id, "Уточните, пожалуйста, адрес.")
        await desk.wait_topic_text("Обращение взял(а) Ольга")  # answering took it
        citizen.send_text("ул. Ленина, 1")
        await desk.wait_topic_text("Гражданин: ул. Ленина, 1")
        sent_before = len(tg.state.sent[citizen.chat_id])
        assert sent_before == 3  # the bot stayed silent while the operator had it

        olga.press_button(desk.card(), button(desk.card(), "ob:"))
        await wait_citizen_text(tg, citizen.chat_id, texts.RETURNED_TO_BOT[:30])
        await desk.wait_topic_text("вернул(а) обращение боту")
        citizen.send_text("Как записаться на приём к врачу?")
        await tg.wait_for_messages(citizen.chat_id, sent_before + 2, 20)
        async with desk.services.sessions() as session:
            conversation = await session.scalar(
                select(Conversation).order_by(Conversation.id.desc())
            )
            relayed = await session.scalar(
                select(Message.external_id).where(
                    Message.text == "Как записаться на приём к врачу?"
                )
            )
        assert conversation.status == "bot"
        assert relayed is None  # the bot answered it; the operators did not get it
