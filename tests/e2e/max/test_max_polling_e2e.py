"""The MAX channel end to end: the real maxapi client long-polls the fake MAX API over
127.0.0.1, the real conversation service and database answer (the dialogue is the
predictable `EchoDialogue`), and the outbox sends through maxapi again."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bots.max.client import build_bot
from core.domain import DeliveryStatus, Direction, MessageKind
from core.models import Message
from nlu import texts
from tests.e2e.max.conftest import RunningMaxBot

ANNA = 501


async def test_a_question_is_answered_with_its_buttons(fake, bot):
    anna = fake.citizen(ANNA, "Анна")
    anna.send_text("Как записаться к врачу?")

    [sent] = await fake.wait_for_messages(ANNA, 1)

    assert sent.text == "Ответ на вопрос: Как записаться к врачу?"
    assert [b["text"] for b in sent.buttons()] == [texts.BUTTON_HELPED, texts.BUTTON_NOT_HELPED]
    assert {b["type"] for b in sent.buttons()} == {"callback"}
    # Sent by user id into the citizen's dialog.
    assert sent.query.get("user_id") == str(ANNA) and sent.chat_id == anna.chat_id


async def test_a_button_press_is_a_turn_and_the_callback_is_answered(fake, bot, sessions):
    anna = fake.citizen(ANNA, "Анна")
    anna.send_text("Где МФЦ?")
    [answer] = await fake.wait_for_messages(ANNA, 1)
    [pressed] = [b for b in answer.buttons() if b["text"] == texts.BUTTON_NOT_HELPED]

    anna.press(answer, text=texts.BUTTON_NOT_HELPED)
    await fake.wait_for_messages(ANNA, 2)

    async with sessions() as session:
        stored = (
            await session.scalars(
                select(Message).where(Message.direction == Direction.IN).order_by(Message.id)
            )
        ).all()
    assert [(m.kind, m.payload) for m in stored] == [
        (MessageKind.TEXT, None),
        (MessageKind.BUTTON, pressed["payload"]),
    ]
    await fake.wait_until(lambda: len(fake.answers) == 1)
    [answered] = fake.answers
    assert answered.callback_id


async def test_a_photo_reaches_the_conversation_with_its_url(fake, bot, sessions):
    anna = fake.citizen(ANNA, "Анна")
    anna.send_photo("яма на дороге")

    [sent] = await fake.wait_for_messages(ANNA, 1)

    assert sent.text == "Получено: photo"
    async with sessions() as session:
        [stored] = (
            await session.scalars(select(Message).where(Message.direction == Direction.IN))
        ).all()
    assert stored.kind == MessageKind.PHOTO and stored.text == "яма на дороге"
    [attachment] = stored.attachments
    assert attachment["type"] == "photo" and attachment["url"].startswith(fake.url)


async def test_a_redelivered_update_is_answered_once(fake, bot, inbox_rows):
    anna = fake.citizen(ANNA, "Анна")
    anna.send_text("Часы работы?")
    await fake.wait_for_messages(ANNA, 1)
    first = fake.updates[-1].seq

    fake.redeliver(first)
    anna.send_text("Спасибо")
    await fake.wait_for_messages(ANNA, 2)
    await fake.wait_until(lambda: fake.pending_updates == 0)
    await bot.shutdown()

    assert [m.text for m in fake.sent(ANNA)] == [
        "Ответ на вопрос: Часы работы?",
        "Ответ на вопрос: Спасибо",
    ]
    assert len(await inbox_rows()) == 2


async def test_429_is_waited_out_and_the_reply_recorded_sent(fake, bot, sessions):
    fake.fail_next("POST /messages", times=3, status=429)
    anna = fake.citizen(ANNA, "Анна")
    anna.send_text("Куда платить за свет?")

    [sent] = await fake.wait_for_messages(ANNA, 1, timeout=15)
    await bot.shutdown()

    assert sent.text == "Ответ на вопрос: Куда платить за свет?"
    assert len(fake.requests("POST /messages")) == 4
    async with sessions() as session:
        [reply] = (
            await session.scalars(select(Message).where(Message.direction == Direction.OUT))
        ).all()
    assert (reply.delivery_status, reply.external_id) == (DeliveryStatus.SENT, sent.mid)


async def test_a_citizen_who_blocked_the_bot_is_marked_blocked(fake, bot, sessions, dialogue):
    dialogue.hold = asyncio.Event()
    anna = fake.citizen(ANNA, "Анна")
    anna.send_text("Вопрос")
    await fake.wait_until(lambda: len(dialogue.turns) == 1)
    fake.block(ANNA)  # while the answer is being prepared

    dialogue.hold.set()
    await fake.wait_until(lambda: len(fake.requests("POST /messages")) == 1)
    await bot.shutdown()

    assert fake.sent(ANNA) == []
    async with sessions() as session:
        [reply] = (
            await session.scalars(select(Message).where(Message.direction == Direction.OUT))
        ).all()
    assert reply.delivery_status == DeliveryStatus.BLOCKED


async def test_polling_removes_a_webhook_left_from_an_earlier_run(
    fake, settings, handler, inbox, outbox
):
    client = build_bot(fake.token, fake.url)
    try:
        await client.subscribe_webhook("https://djinn.example/max/webhook", secret="old-secret")
    finally:
        await client.close_session()
    assert len(fake.subscriptions) == 1

    async with RunningMaxBot(fake, settings, handler, inbox, outbox):
        assert fake.subscriptions == []
        fake.citizen(ANNA, "Анна").send_text("Работает?")
        [sent] = await fake.wait_for_messages(ANNA, 1)
    assert sent.text == "Ответ на вопрос: Работает?"
