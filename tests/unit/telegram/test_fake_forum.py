"""The fake's operator group: topics and members, driven by aiogram's own client (so
its answers parse as the real server's do)."""

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter

from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tools.fake_telegram.limits import RateLimits

GROUP = -1001234567890


@pytest.fixture
async def tg():
    async with FakeTelegram(rate_limits=None) as fake:
        fake.operator_group(GROUP)
        yield fake


def client(tg: FakeTelegram) -> Bot:
    server = TelegramAPIServer.from_base(tg.api_url)
    return Bot(DEFAULT_TOKEN, session=AiohttpSession(api=server))


async def test_a_topic_is_created_written_to_renamed_closed_and_reopened(tg):
    async with client(tg) as bot:
        topic = await bot.create_forum_topic(GROUP, "№12 · TG · ЖКХ")
        sent = await bot.send_message(GROUP, "Карточка", message_thread_id=topic.message_thread_id)
        await bot.edit_forum_topic(GROUP, topic.message_thread_id, name="№12 · TG · ЖКХ ✅")
        await bot.close_forum_topic(GROUP, topic.message_thread_id)
        with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
            await bot.close_forum_topic(GROUP, topic.message_thread_id)
        await bot.reopen_forum_topic(GROUP, topic.message_thread_id)

    assert sent.message_thread_id == topic.message_thread_id and sent.is_topic_message
    [stored] = tg.topics(GROUP)
    assert (stored.name, stored.closed) == ("№12 · TG · ЖКХ ✅", False)
    assert [m["text"] for m in tg.topic_messages(GROUP, topic.message_thread_id)] == ["Карточка"]


async def test_writing_to_a_topic_deleted_by_hand_fails_as_telegram_does(tg):
    async with client(tg) as bot:
        topic = await bot.create_forum_topic(GROUP, "Обращение")
        tg.delete_topic_by_hand(GROUP, topic.message_thread_id)
        with pytest.raises(TelegramBadRequest, match="message thread not found"):
            await bot.send_message(GROUP, "Ещё", message_thread_id=topic.message_thread_id)
        with pytest.raises(TelegramBadRequest, match="message thread not found"):
            await bot.send_message(GROUP, "Куда?", message_thread_id=999)
    assert tg.topics(GROUP) == []


async def test_topic_names_are_checked(tg):
    tg.citizen(1001)
    async with client(tg) as bot:
        with pytest.raises(TelegramBadRequest, match="TOPIC_NAME_INVALID"):
            await bot.create_forum_topic(GROUP, "я" * 129)
        with pytest.raises(TelegramBadRequest, match="not a forum"):
            await bot.create_forum_topic(1001, "Личный чат")


async def test_members_are_reported_with_their_status(tg):
    tg.operator(501, "Ольга", GROUP)
    tg.operator(502, "Пётр", GROUP, status="administrator")
    tg.operator(504, "Спамер", GROUP, status="kicked")
    tg.operator(505, "Молчун", GROUP, status="restricted")
    outsider = tg.citizen(503)
    async with client(tg) as bot:
        olga = await bot.get_chat_member(GROUP, 501)
        peter = await bot.get_chat_member(GROUP, 502)
        stranger = await bot.get_chat_member(GROUP, outsider.user_id)
        banned = await bot.get_chat_member(GROUP, 504)
        silenced = await bot.get_chat_member(GROUP, 505)
    assert olga.status == ChatMemberStatus.MEMBER
    assert peter.status == ChatMemberStatus.ADMINISTRATOR
    assert stranger.status == ChatMemberStatus.LEFT
    assert banned.status == ChatMemberStatus.KICKED
    assert silenced.status == ChatMemberStatus.RESTRICTED


async def test_an_operator_writes_in_a_topic_and_the_bot_gets_the_update(tg):
    olga = tg.operator(501, "Ольга", GROUP)
    async with client(tg) as bot:
        topic = await bot.create_forum_topic(GROUP, "Обращение")
        olga.write(topic.message_thread_id, "Здравствуйте, я оператор")
        [update] = await bot.get_updates(timeout=1)
    message = update.message
    assert message.chat.id == GROUP and message.is_topic_message
    assert message.message_thread_id == topic.message_thread_id
    assert (message.from_user.id, message.text) == (501, "Здравствуйте, я оператор")


async def test_a_citizens_edit_arrives_as_an_edited_message(tg):
    anna = tg.citizen(1001)
    first = anna.send_text("Адрес: Ленина 1")
    anna.edit(first, "Адрес: Ленина 10")
    async with client(tg) as bot:
        updates = await bot.get_updates(timeout=1)
    assert updates[1].edited_message.message_id == first["message"]["message_id"]
    assert updates[1].edited_message.text == "Адрес: Ленина 10"


async def test_new_topics_count_against_the_groups_flood_limit():
    async with FakeTelegram(rate_limits=RateLimits(per_group=3)) as tg:
        tg.operator_group(GROUP)
        async with client(tg) as bot:
            topic = await bot.create_forum_topic(GROUP, "Первая")
            await bot.send_message(GROUP, "Карточка", message_thread_id=topic.message_thread_id)
            await bot.create_forum_topic(GROUP, "Вторая")
            with pytest.raises(TelegramRetryAfter):
                await bot.create_forum_topic(GROUP, "Третья")
