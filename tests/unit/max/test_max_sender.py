"""What the MAX transport makes of a reply before sending, and of MAX's refusals."""

from __future__ import annotations

import pytest
from maxapi.exceptions.max import MaxApiError

from bots.max.client import build_bot
from bots.max.sender import NOT_PASSED, NOT_SHOWN, MaxTransport, _classified
from bots.outbox import RetryAfter, Unavailable, Undeliverable
from bots.text import MAX_TEXT_LIMIT
from core.domain import Channel, DeliveryStatus, Reply


@pytest.fixture
async def transport():
    bot = build_bot("token", "http://127.0.0.1:9")
    yield MaxTransport(bot)
    await bot.close_session()


def reply(text: str, chat_id: str = "501", **media) -> Reply:
    attachments = ({"type": "telegram_message", **media},) if media else ()
    return Reply(Channel.MAX, chat_id, text, attachments=attachments)


async def test_long_text_is_split_under_the_limit_and_odd_chats_get_nothing(transport):
    parts = transport.split(reply("Абзац. " * 1500))
    assert len(parts) > 1 and all(len(p) <= MAX_TEXT_LIMIT for p in parts)
    assert transport.split(reply("текст", chat_id="-5")) == []
    assert transport.split(reply("текст", chat_id="abc")) == []


async def test_what_max_cannot_get_becomes_a_note(transport):
    [sticker] = transport.split(reply("", kind="sticker"))
    assert sticker == NOT_SHOWN.format(what="стикер")
    # Without a way to download operators' files, a photo is a note that it was not passed.
    [photo] = transport.split(reply("Образец", kind="photo", file_id="f1"))
    assert photo == "Образец\n\n" + NOT_PASSED.format(what="фото")
    [place] = transport.split(reply("", kind="location", latitude=55.75, longitude=37.61))
    assert place == "📍 Оператор отправил точку на карте: 55.750000, 37.610000"


@pytest.mark.parametrize(
    ("status", "raw", "expected"),
    [
        (429, {"code": "too.many.requests"}, RetryAfter),
        (503, "<html>", Unavailable),
        (401, {"code": "verify.token"}, Unavailable),
        (403, {"code": "chat.denied"}, DeliveryStatus.BLOCKED),
        (400, {"code": "proto.payload"}, DeliveryStatus.FAILED),
        (404, {"code": "chat.not.found"}, DeliveryStatus.FAILED),
    ],
)
def test_refusals_are_classified(status, raw, expected):
    error = _classified(MaxApiError(code=status, raw=raw))
    if isinstance(expected, DeliveryStatus):
        assert isinstance(error, Undeliverable) and error.status is expected
    else:
        assert isinstance(error, expected)
