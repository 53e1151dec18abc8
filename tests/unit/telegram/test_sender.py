import asyncio

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties

from bots.telegram.sender import ReplySender, RetryPolicy
from core.domain import Button, Channel, DeliveryStatus, Reply
from tests.factories import TG_BOT_TOKEN
from tests.fakes import RecordedDelivery
from tests.unit.telegram.doubles import NETWORK_DOWN, RecordingSession, api_error

BUTTONS = ((Button("👍 Помогло", "fh:1"), Button("👎 Не помогло", "fn:1")),)


def reply(text="Ответ: справку выдаёт МФЦ.", chat_id="1001", outbox_id=1, buttons=BUTTONS):
    return Reply(Channel.TELEGRAM, chat_id, text, buttons, outbox_id)


async def test_reply_is_sent_as_plain_text_with_its_keyboard(sender, session, service):
    await sender.send(reply("Цена <b>0</b> & *бесплатно*"))
    [sent] = session.sent()
    assert (sent.chat_id, sent.text, sent.parse_mode) == (
        1001,
        "Цена <b>0</b> & *бесплатно*",
        None,
    )
    assert sent.reply_markup.inline_keyboard[0][1].callback_data == "fn:1"
    assert service.deliveries == [RecordedDelivery(1, DeliveryStatus.SENT, "100", None)]


async def test_plain_text_even_when_the_bot_defaults_to_html(service, sleep):
    session = RecordingSession()
    bot = Bot(TG_BOT_TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    await ReplySender(bot, service, sleep=sleep).send(reply("a < b"))
    form = session.sent()[0].model_dump()
    assert form["parse_mode"] is None


async def test_long_reply_is_split_and_keyboard_goes_on_the_last_part(sender, session, service):
    paragraphs = "\n\n".join(f"Пункт {i}. " + "текст " * 300 for i in range(4))
    await sender.send(reply(paragraphs))
    sent = session.sent()
    assert len(sent) > 1
    assert all(len(m.text) <= 4096 for m in sent)
    assert [m.reply_markup is not None for m in sent] == [False] * (len(sent) - 1) + [True]
    assert service.deliveries == [
        RecordedDelivery(1, DeliveryStatus.SENT, str(99 + len(sent)), None)
    ]


async def test_rate_limit_is_waited_out_then_retried(sender, session, service, sleep):
    session.queue("sendMessage", api_error(429, "Too Many Requests: retry after 7", 7))
    await sender.send(reply())
    assert sleep.waits == [7]
    assert len(session.sent()) == 2
    assert service.statuses() == [DeliveryStatus.SENT]


async def test_blocked_by_the_citizen_is_recorded_and_not_retried(sender, session, service):
    session.queue("sendMessage", api_error(403, "Forbidden: bot was blocked by the user"))
    delivery = await sender.send(reply())
    assert delivery.status is DeliveryStatus.BLOCKED
    assert len(session.sent()) == 1
    assert service.deliveries == [
        RecordedDelivery(1, DeliveryStatus.BLOCKED, None, "Forbidden: bot was blocked by the user")
    ]


async def test_network_errors_and_5xx_are_retried_with_growing_pauses(
    sender, session, service, sleep
):
    session.queue("sendMessage", NETWORK_DOWN, api_error(502, "Bad Gateway"), NETWORK_DOWN)
    await sender.send(reply())
    assert sleep.waits == [0.5, 1.0, 2.0]
    assert service.statuses() == [DeliveryStatus.SENT]


async def test_retries_are_bounded_then_failed_is_recorded(bot, session, service, sleep):
    sender = ReplySender(bot, service, policy=RetryPolicy(attempts=3), sleep=sleep)
    session.queue("sendMessage", *[NETWORK_DOWN] * 3)
    await sender.send(reply())
    assert len(session.sent()) == 3
    assert sleep.waits == [0.5, 1.0]
    [delivery] = service.deliveries
    assert delivery.status is DeliveryStatus.FAILED and "3 attempts" in delivery.error


async def test_bad_request_fails_at_once(sender, session, service, sleep):
    session.queue("sendMessage", api_error(400, "Bad Request: chat not found"))
    await sender.send(reply())
    assert sleep.waits == []
    assert service.statuses() == [DeliveryStatus.FAILED]
    assert "chat not found" in service.deliveries[0].error


async def test_button_telegram_would_refuse_does_not_cost_the_citizen_the_text(
    sender, session, service
):
    await sender.send(reply(buttons=((Button("Подробнее", "x" * 65),),)))
    [sent] = session.sent()
    assert sent.reply_markup is None
    assert service.statuses() == [DeliveryStatus.SENT]


async def test_reply_without_outbox_id_is_sent_without_a_record(sender, session, service):
    await sender.send(reply(outbox_id=None))
    assert len(session.sent()) == 1
    assert service.deliveries == []


async def test_failure_to_record_does_not_escape(sender, session, service):
    async def broken(*args, **kwargs):
        raise ConnectionError("database is gone")

    service.record_delivery = broken
    delivery = await sender.send(reply())
    assert delivery.status is DeliveryStatus.SENT


async def test_one_chat_waits_its_turn_while_other_chats_go_ahead(bot, session, service):
    released = asyncio.Event()

    async def slow_sleep(seconds: float) -> None:
        await released.wait()

    sender = ReplySender(bot, service, sleep=slow_sleep)
    session.queue("sendMessage", api_error(429, "Too Many Requests: retry after 1", 1))
    first = asyncio.create_task(sender.send(reply("первый", outbox_id=1)))
    await asyncio.sleep(0)
    second = asyncio.create_task(sender.send(reply("второй", outbox_id=2)))
    other = asyncio.create_task(sender.send(reply("другой чат", chat_id="2002", outbox_id=3)))
    await other
    assert not second.done()
    released.set()
    await asyncio.gather(first, second)
    texts = [(m.chat_id, m.text) for m in session.sent()]
    assert texts == [(1001, "первый"), (2002, "другой чат"), (1001, "первый"), (1001, "второй")]


async def test_resend_keeps_each_chats_order(sender, session):
    await sender.resend(
        [
            reply("a1", outbox_id=1),
            reply("b1", chat_id="2002", outbox_id=2),
            reply("a2", outbox_id=3),
        ]
    )
    by_chat = [m.text for m in session.sent() if m.chat_id == 1001]
    assert by_chat == ["a1", "a2"]
    assert len(session.sent()) == 3


async def test_lone_surrogate_is_sent_as_a_replacement_character(sender, session, service):
    delivery = await sender.send(reply("Ответ \ud800"))
    assert delivery.status is DeliveryStatus.SENT
    assert [m.text for m in session.sent()] == ["Ответ \ufffd"]
