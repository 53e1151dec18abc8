"""The Telegram transport: what it sends, and how it reads Telegram's answers for the
outbox (wait, try later, or never)."""

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties

from bots.outbox import RetryAfter, Unavailable, Undeliverable
from bots.telegram.sender import TelegramTransport
from core.domain import Button, Channel, DeliveryStatus, Reply
from tests.factories import TG_BOT_TOKEN
from tests.unit.telegram.doubles import NETWORK_DOWN, RecordingSession, api_error

BUTTONS = ((Button("👍 Помогло", "fh:1"), Button("👎 Не помогло", "fn:1")),)


def reply(text="Ответ: справку выдаёт МФЦ.", chat_id="1001", outbox_id=1, buttons=BUTTONS):
    return Reply(Channel.TELEGRAM, chat_id, text, buttons, outbox_id)


@pytest.fixture
def transport(bot) -> TelegramTransport:
    return TelegramTransport(bot)


async def send(transport: TelegramTransport, item: Reply) -> list[str | None]:
    parts = transport.split(item)
    return [
        await transport.send_part(item, i, part, i == len(parts) - 1)
        for i, part in enumerate(parts)
    ]


async def test_reply_is_sent_as_plain_text_with_its_keyboard(transport, session):
    assert await send(transport, reply("Цена <b>0</b> & *бесплатно*")) == ["100"]
    [sent] = session.sent()
    assert (sent.chat_id, sent.text, sent.parse_mode) == (
        1001,
        "Цена <b>0</b> & *бесплатно*",
        None,
    )
    assert sent.reply_markup.inline_keyboard[0][1].callback_data == "fn:1"


async def test_plain_text_even_when_the_bot_defaults_to_html():
    session = RecordingSession()
    bot = Bot(TG_BOT_TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    await send(TelegramTransport(bot), reply("a < b"))
    form = session.sent()[0].model_dump()
    assert form["parse_mode"] is None


async def test_long_reply_is_split_and_keyboard_goes_on_the_last_part(transport, session):
    paragraphs = "\n\n".join(f"Пункт {i}. " + "текст " * 300 for i in range(4))
    ids = await send(transport, reply(paragraphs))
    sent = session.sent()
    assert len(sent) == len(ids) > 1
    assert all(len(m.text) <= 4096 for m in sent)
    assert [m.reply_markup is not None for m in sent] == [False] * (len(sent) - 1) + [True]


async def test_rate_limit_asks_to_wait_as_long_as_telegram_says(transport, session):
    session.queue("sendMessage", api_error(429, "Too Many Requests: retry after 7", 7))
    with pytest.raises(RetryAfter) as caught:
        await send(transport, reply())
    assert caught.value.seconds == 7


async def test_blocked_by_the_citizen_is_never_retried(transport, session):
    session.queue("sendMessage", api_error(403, "Forbidden: bot was blocked by the user"))
    with pytest.raises(Undeliverable) as caught:
        await send(transport, reply())
    assert caught.value.status is DeliveryStatus.BLOCKED
    assert "blocked by the user" in str(caught.value)


@pytest.mark.parametrize(
    "answer",
    [NETWORK_DOWN, api_error(502, "Bad Gateway"), api_error(500, "Internal Server Error")],
    ids=["network", "502", "500"],
)
async def test_network_errors_and_5xx_wait_for_telegram(transport, session, answer):
    session.queue("sendMessage", answer)
    with pytest.raises(Unavailable):
        await send(transport, reply())


async def test_bad_request_is_never_retried(transport, session):
    session.queue("sendMessage", api_error(400, "Bad Request: chat not found"))
    with pytest.raises(Undeliverable) as caught:
        await send(transport, reply())
    assert caught.value.status is DeliveryStatus.FAILED
    assert "chat not found" in str(caught.value)


async def test_button_telegram_would_refuse_does_not_cost_the_citizen_the_text(transport, session):
    await send(transport, reply(buttons=((Button("Подробнее", "x" * 65),),)))
    [sent] = session.sent()
    assert sent.reply_markup is None


async def test_lone_surrogate_is_sent_as_a_replacement_character(transport, session):
    await send(transport, reply("Ответ \ud800"))
    assert [m.text for m in session.sent()] == ["Ответ \ufffd"]


def test_empty_text_has_nothing_to_send(transport):
    assert transport.split(reply("   ")) == []
