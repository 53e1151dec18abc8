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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from sqlalchemy import select

from bots.app import Services, open_services
from bots.cli.run import _serve_channels
from core.models import AuditEntry, Conversation, HandoffCase, Message, ReplyTemplate, as_utc
from core.settings import Settings
from handoff.sla import SlaWatcher
from nlu import texts
from nlu.payloads import Action, decode
from tools.fake_max import FakeMax
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tools.fake_telegram.citizens import Citizen
from tools.fake_vk import FakeVk

GROUP = -1001111111111
QUESTION = "Как оплатить коммунальные услуги?"
# The operators' actions in the audit log (the demo FAQ's import is recorded there too).
OPERATOR_ACTIONS = AuditEntry.action.not_like("faq.%")


@dataclass
class Desk:
    tg: FakeTelegram
    vk: FakeVk | None
    services: Services
    max: FakeMax | None = None

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
    demo_settings: Settings,
    embedder: Any,
    tmp_path: Path,
    *,
    with_vk: bool = False,
    with_max: bool = False,
    **overrides: Any,
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
            **overrides,
        }
        vk = None
        if with_vk:
            vk = await stack.enter_async_context(FakeVk())
            values |= {
                "vk_group_token": vk.token,
                "vk_group_id": vk.group_id,
                "vk_api_url": vk.api_url,
            }
        max_api = None
        if with_max:
            max_api = await stack.enter_async_context(FakeMax())
            values |= {"max_bot_token": max_api.token, "max_api_url": max_api.url}
        settings = Settings(_env_file=None, **values)
        services = await stack.enter_async_context(
            open_services(settings, embedder=embedder, with_rasa=False)
        )
        stop = asyncio.Event()
        channels = ["telegram"] + ["vk"] * with_vk + ["max"] * with_max
        task = asyncio.create_task(_serve_channels(settings, services, channels, stop))
        try:
            if vk is not None:  # events before the first long poll are not delivered
                await vk.wait_until(lambda: vk.calls("groups.getLongPollServer"), guard=30)
                await asyncio.sleep(0.5)
            if max_api is not None:  # the same for MAX's long poll
                await max_api.wait_until(lambda: bool(max_api.requests("GET /updates")), 30)
            yield Desk(tg, vk, services, max_api)
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
                await session.scalars(
                    select(AuditEntry.action).where(OPERATOR_ACTIONS).order_by(AuditEntry.id)
                )
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


SUPERVISORS = -1002222222222


async def test_sla_reminder_and_miss_fire_at_their_moments(demo_settings, embedder, tmp_path):
    async with running_desk(
        demo_settings, embedder, tmp_path, supervisor_chat_id=SUPERVISORS
    ) as desk:
        tg = desk.tg
        tg.operator(9100, "Светлана", SUPERVISORS)
        citizen = tg.citizen(503, "Вера")
        await tg_citizen_asks_for_operator(desk, citizen)
        case = await desk.case()
        due = as_utc(case.sla_due_at)
        assert due - as_utc(case.requested_at) == timedelta(minutes=15)  # around the clock

        now = [due - timedelta(minutes=5, seconds=1)]
        policy = desk.services.handoff.sla
        assert policy is not None
        watcher = SlaWatcher(
            desk.services.sessions, policy, desk.services.operators.notify, clock=lambda: now[0]
        )
        assert await watcher.check() == (0, 0)  # a second before the reminder
        now[0] = due - timedelta(minutes=5)
        assert await watcher.check() == (1, 0)
        assert await watcher.check() == (0, 0)  # once
        await desk.wait_topic_text("⏰ Срок первого ответа")
        now[0] = due - timedelta(seconds=1)
        assert await watcher.check() == (0, 0)
        now[0] = due
        assert await watcher.check() == (0, 1)
        assert await watcher.check() == (0, 0)
        await desk.wait_topic_text("⛔ Срок первого ответа")
        [alert] = await tg.wait_for_messages(SUPERVISORS, 1, 20)
        assert f"обращение №{case.conversation_id}" in alert["text"]
        assert f"https://t.me/c/{str(GROUP)[4:]}/{desk.thread()}" in alert["text"]


async def test_an_answered_request_fires_no_reminder(demo_settings, embedder, tmp_path):
    async with running_desk(demo_settings, embedder, tmp_path) as desk:
        tg = desk.tg
        citizen = tg.citizen(504, "Глеб")
        await tg_citizen_asks_for_operator(desk, citizen)
        tg.operator(9001, "Ольга", GROUP).write(desk.thread(), "Добрый день!")
        await wait_citizen_text(tg, citizen.chat_id, "Добрый день!")
        case = await desk.case()
        policy = desk.services.handoff.sla
        assert policy is not None
        late = as_utc(case.sla_due_at) + timedelta(hours=1)
        watcher = SlaWatcher(desk.services.sessions, policy, clock=lambda: late)
        assert await watcher.check() == (0, 0)


async def test_outside_business_hours_the_citizen_is_told_when_operators_are_back(
    demo_settings, embedder, tmp_path
):
    # A calendar that is closed now: open only on one day a week, not today.
    today = datetime.now(ZoneInfo("Europe/Moscow")).strftime("%a").lower()
    other = "wed" if today != "wed" else "thu"
    hours = f"{other} 09:00-18:00"
    async with running_desk(demo_settings, embedder, tmp_path, business_hours=hours) as desk:
        tg = desk.tg
        citizen = tg.citizen(505, "Лев")
        await tg_citizen_asks_for_operator(desk, citizen)
        notice = await wait_citizen_text(tg, citizen.chat_id, "Сейчас нерабочее время")
        weekday = {"wed": "в среду", "thu": "в четверг"}[other]
        assert weekday in notice["text"] and "9:00" in notice["text"]


async def test_templates_bans_notes_and_strangers(demo_settings, embedder, tmp_path):
    async with running_desk(demo_settings, embedder, tmp_path) as desk:
        tg = desk.tg
        async with desk.services.sessions.begin() as session:
            session.add(
                ReplyTemplate(name="срок", text="{name}, по обращению №{number} ответим завтра.")
            )
        citizen = tg.citizen(506, "Зоя")
        await tg_citizen_asks_for_operator(desk, citizen)
        thread = desk.thread()
        olga = tg.operator(9001, "Ольга", GROUP)
        olga.write(thread, "/t")
        await desk.wait_topic_text("• срок — ")
        olga.write(thread, "/t нет-такого")
        await desk.wait_topic_text("Шаблона «нет-такого» нет")
        olga.write(thread, "/t срок")
        case = await desk.case()
        await wait_citizen_text(
            tg, citizen.chat_id, f"Зоя, по обращению №{case.conversation_id} ответим завтра."
        )
        olga.write(thread, "/note гражданин звонил вчера")

        # A stranger (left the group) cannot take or close the conversation.
        stranger = tg.operator(9003, "Чужой", GROUP, status="left")
        query = stranger.press_button(desk.card(), button(desk.card(), "oc:"))
        query_id = query["callback_query"]["id"]
        await tg.wait_until(lambda: query_id in tg.state.callback_answers, 20, "answer")
        assert "только участники группы операторов" in tg.state.callback_answers[query_id]["text"]

        olga.write(thread, "/ban")
        await desk.wait_topic_text("заблокировал(а) гражданина")
        sent = len(tg.state.sent[citizen.chat_id])
        citizen.send_text("спам спам спам")
        citizen.send_text("ещё спам")

        async def handled_spam() -> int:
            async with desk.services.sessions() as session:
                rows = await session.scalars(
                    select(Message.id).where(
                        Message.text.like("%спам%"), Message.handled_at.is_not(None)
                    )
                )
                return len(rows.all())

        for _ in range(200):
            if await handled_spam() == 2:
                break
            await asyncio.sleep(0.1)
        olga.write(thread, "/unban")
        await desk.wait_topic_text("снял(а) блокировку")
        citizen.send_text("Извините, это был ребёнок")
        await desk.wait_topic_text("Гражданин: Извините, это был ребёнок")
        topic = " ".join(desk.topic_texts())
        assert "спам" not in topic and "звонил вчера" in topic  # the note is in the group
        citizen_texts = [m.get("text") or "" for m in tg.state.sent[citizen.chat_id][sent:]]
        assert not any("звонил" in t for t in citizen_texts)
        assert not citizen_texts  # nothing answered the banned messages; the bot is silent
        async with desk.services.sessions() as session:
            stored = (
                await session.scalars(select(Message.text).where(Message.text.like("%спам%")))
            ).all()
            actions = (
                await session.scalars(
                    select(AuditEntry.action).where(OPERATOR_ACTIONS).order_by(AuditEntry.id)
                )
            ).all()
        assert sorted(stored) == ["ещё спам", "спам спам спам"]  # stored all the same
        assert actions == ["assign", "ban", "unban"]


async def test_edits_reopening_and_a_blocked_citizen(demo_settings, embedder, tmp_path):
    async with running_desk(demo_settings, embedder, tmp_path) as desk:
        tg = desk.tg
        citizen = tg.citizen(507, "Ира")
        await tg_citizen_asks_for_operator(desk, citizen)
        thread = desk.thread()
        update = citizen.send_text("Адрес: ул. Мира, 5")
        await desk.wait_topic_text("Гражданин: Адрес: ул. Мира, 5")
        citizen.edit(update, "Адрес: ул. Мира, 7")
        await desk.wait_topic_text("✏️ Гражданин исправил сообщение: Адрес: ул. Мира, 7")
        original = next(
            m
            for m in tg.topic_messages(GROUP, thread)
            if m.get("text") == "Гражданин: Адрес: ул. Мира, 5"
        )
        edit = next(
            m for m in tg.topic_messages(GROUP, thread) if "исправил" in (m.get("text") or "")
        )
        assert edit["reply_to_message"]["message_id"] == original["message_id"]

        olga = tg.operator(9001, "Ольга", GROUP)
        olga.press_button(desk.card(), button(desk.card(), "oc:"))
        await wait_citizen_text(tg, citizen.chat_id, texts.CLOSED_BY_OPERATOR[:30])
        await desk.wait_topic_text("закрыл(а) обращение")
        citizen.send_text("Забыла спросить: а сроки?")
        await wait_citizen_text(tg, citizen.chat_id, texts.REOPENED_ACK)
        await desk.wait_topic_text("Гражданин: Забыла спросить: а сроки?")
        await desk.wait_topic_text("обращение открыто снова")
        [topic] = tg.topics(GROUP)
        assert not topic.closed and len(tg.requests("createForumTopic")) == 1
        case = await desk.case()
        assert case.reopenings == 1 and case.ended_at is None

        tg.block(citizen.chat_id)
        olga.write(thread, "Сроки — 30 дней.")
        await desk.wait_topic_text("🚫 Сообщение не доставлено")
        await tg.wait_until(lambda: tg.topics(GROUP)[0].name.endswith("🚫"), 20, "marked")


DEPARTMENT = -1003333333333


async def test_a_department_gets_its_categories_and_commands_elsewhere_are_refused(
    demo_settings, embedder, tmp_path
):
    async with running_desk(
        demo_settings, embedder, tmp_path, operator_groups=f"{DEPARTMENT}=ЖКХ, Транспорт"
    ) as desk:
        tg = desk.tg
        tg.operator_group(DEPARTMENT, "Отдел ЖКХ")
        citizen = tg.citizen(508, "Тимур")
        citizen.send_text(QUESTION)  # an answer from the category «ЖКХ»
        [answer] = await tg.wait_for_messages(citizen.chat_id, 1, 20)
        citizen.press_button(answer, button(answer, "op:"))
        await tg.wait_until(lambda: tg.topics(DEPARTMENT), 20, "a topic in the department")
        [topic] = tg.topics(DEPARTMENT)
        assert "ЖКХ" in topic.name and not tg.topics(GROUP)

        # Operator commands from a citizen's private chat or another group are refused.
        citizen.send_text("/ban")
        await wait_citizen_text(tg, citizen.chat_id, texts.OPERATOR_ONLY)
        elsewhere = tg.operator(9004, "Кто-то", -1004444444444)
        elsewhere.write(None, "/t")
        [refusal] = await tg.wait_for_messages(-1004444444444, 1, 20)
        assert refusal["text"] == texts.OPERATOR_ONLY


async def wait_vk(vk: FakeVk, peer: int, fragment: str) -> Any:
    def found() -> Any:
        return next((m for m in vk.sent_to(peer) if fragment in m.text), None)

    await vk.wait_until(lambda: found() is not None, guard=20)
    return found()


def press_vk(vk: FakeVk, peer: int, message: Any, label: str) -> None:
    [action] = [
        button["action"]
        for row in (message.keyboard or {}).get("buttons", [])
        for button in row
        if button["action"]["label"] == label
    ]
    vk.press_button(peer, action["label"], action["payload"])


async def test_a_vk_citizen_gets_an_operator_in_vk(demo_settings, embedder, tmp_path):
    async with running_desk(demo_settings, embedder, tmp_path, with_vk=True) as desk:
        tg, vk = desk.tg, desk.vk
        assert vk is not None
        peer = 7001
        vk.send_text(peer, QUESTION)
        answer = await wait_vk(vk, peer, "")
        press_vk(vk, peer, answer, texts.BUTTON_OPERATOR)
        await wait_vk(vk, peer, texts.OPERATOR_REQUESTED[:30])
        await desk.wait_topic_text("Обращение №")
        assert " · VK" in tg.topics(GROUP)[0].name
        assert "Канал: ВКонтакте" in desk.card()["text"]

        # The FAQ answer closest to the question, sent with one tap on the card.
        olga = tg.operator(9001, "Ольга", GROUP)

        def answers() -> list[Any]:
            return [m for m in vk.sent_to(peer) if m.text.startswith("Оплатить жилищно")]

        assert len(answers()) == 1  # the bot's own answer
        olga.press_button(desk.card(), button(desk.card(), "of:"))
        await vk.wait_until(lambda: len(answers()) == 2, guard=20)
        async with desk.services.sessions() as session:
            authors = (
                await session.scalars(
                    select(Message.author).where(Message.text.startswith("Оплатить жилищно"))
                )
            ).all()
        assert sorted(authors, key=str) == [None, "operator:9001"]

        thread = desk.thread()
        olga.write(thread, "! сверю с реестром должников")
        olga.write(thread, "Если не получается, напишите номер лицевого счёта.")
        await wait_vk(vk, peer, "номер лицевого счёта")
        assert not any("должник" in m.text for m in vk.sent_to(peer))
        vk.send_text(peer, "Лицевой счёт 123456")
        await desk.wait_topic_text("Гражданин: Лицевой счёт 123456")

        olga.press_button(desk.card(), button(desk.card(), "oc:"))
        rating = await wait_vk(vk, peer, texts.CLOSED_BY_OPERATOR[:30])
        press_vk(vk, peer, rating, "4")
        await wait_vk(vk, peer, texts.RATED[:20])
        case = await desk.case()
        assert (case.csat_score, case.operator_name, case.outcome) == (4, "Ольга", "closed")


async def test_a_vk_conversation_goes_back_to_the_bot(demo_settings, embedder, tmp_path):
    async with running_desk(demo_settings, embedder, tmp_path, with_vk=True) as desk:
        tg, vk = desk.tg, desk.vk
        assert vk is not None
        peer = 7002
        vk.send_text(peer, QUESTION)
        answer = await wait_vk(vk, peer, "")
        press_vk(vk, peer, answer, texts.BUTTON_OPERATOR)
        await desk.wait_topic_text("Обращение №")
        olga = tg.operator(9001, "Ольга", GROUP)
        olga.press_button(desk.card(), button(desk.card(), "ot:"))
        await wait_vk(vk, peer, texts.OPERATOR_JOINED)
        olga.press_button(desk.card(), button(desk.card(), "ob:"))
        await wait_vk(vk, peer, texts.RETURNED_TO_BOT[:30])
        before = len(vk.sent_to(peer))
        vk.send_text(peer, "Как записаться на приём к врачу?")
        await vk.wait_until(lambda: len(vk.sent_to(peer)) > before, guard=20)
        assert "врач" in vk.sent_to(peer)[before].text.lower() or vk.sent_to(peer)[before].keyboard
        async with desk.services.sessions() as session:
            status = await session.scalar(select(Conversation.status).order_by(Conversation.id))
        assert status == "bot"
