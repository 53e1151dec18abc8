"""The VK channel over Bots Long Poll with the real conversation service and outbox (an
echo dialogue answers, so replies are predictable)."""

import asyncio
import json

import pytest
from sqlalchemy import select

from core.domain import Channel, DeliveryStatus, Direction, MessageKind
from core.inbox import InboxStatus
from core.models import Identity, Message
from nlu import texts
from tests.factories import make_message
from tests.fakes import outbound, wait_for

ANNA, BORIS = 5001, 5002


async def delivered(sessions, count: int) -> list[Message]:
    async def done() -> bool:
        rows = await outbound(sessions)
        return sum(r.delivery_status != DeliveryStatus.PENDING for r in rows) >= count

    await wait_for(done)
    return await outbound(sessions)


async def test_question_gets_the_reply_with_a_vk_keyboard(vk, bot, sessions):
    vk.send_text(ANNA, "Как записаться на приём к главе?")

    [sent] = await vk.wait_sent(ANNA)

    assert sent.text == "Ответ на вопрос: Как записаться на приём к главе?"
    assert sent.keyboard["inline"] is True
    labels = [button["action"]["label"] for button in sent.keyboard["buttons"][0]]
    assert labels == [texts.BUTTON_HELPED, texts.BUTTON_NOT_HELPED]
    assert json.loads(sent.keyboard["buttons"][0][1]["action"]["payload"]) == {"c": "fn:1"}
    [row] = await delivered(sessions, 1)
    assert (row.delivery_status, row.external_id) == (DeliveryStatus.SENT, str(sent.id))


async def test_button_press_reaches_the_service_as_its_payload(vk, bot, sessions):
    vk.press_button(ANNA, "Не помогло", {"c": "fn:1"})

    [sent] = await vk.wait_sent(ANNA)

    assert sent.text == texts.FEEDBACK_AGAIN  # the search it refers to does not exist
    async with sessions() as session:
        query = select(Message).where(Message.direction == Direction.IN)
        [incoming] = (await session.scalars(query)).all()
    assert (incoming.kind, incoming.payload) == (MessageKind.BUTTON, "fn:1")


async def test_callback_button_press_is_acknowledged_and_handled(vk, bot):
    vk.press_callback_button(ANNA, {"c": "fh:1"})

    [sent] = await vk.wait_sent(ANNA)

    assert sent.text == texts.FEEDBACK_AGAIN
    [answer] = vk.event_answers
    assert answer["peer_id"] == str(ANNA)


async def test_photo_gets_the_dialogues_reply(vk, bot, dialogue):
    vk.send_attachment(ANNA, "photo", "Яма у подъезда")

    [sent] = await vk.wait_sent(ANNA)

    assert sent.text == "Получено: photo"
    [turn] = dialogue.turns
    assert turn.text == "Яма у подъезда"
    assert turn.attachments[0]["id"].startswith(f"photo{ANNA}_")


async def test_citizen_name_comes_from_users_get(vk, bot, sessions):
    vk.users[ANNA] = ("Анна", "Смирнова")
    vk.send_text(ANNA, "Вопрос")

    await vk.wait_sent(ANNA)

    async with sessions() as session:
        names = (await session.scalars(select(Identity.display_name))).all()
    assert names == ["Анна Смирнова"]


async def test_rate_limit_is_waited_out_and_the_reply_arrives_once(vk, bot, sessions):
    vk.fail_next("messages.send", count=3)
    vk.send_text(ANNA, "Когда вывезут мусор?")

    await vk.wait_sent(ANNA)
    [row] = await delivered(sessions, 1)

    assert len(vk.calls("messages.send")) == 4
    assert len({call.params["random_id"] for call in vk.calls("messages.send")}) == 1
    assert [m.text for m in vk.sent_to(ANNA)] == ["Ответ на вопрос: Когда вывезут мусор?"]
    assert row.delivery_status == DeliveryStatus.SENT


@pytest.mark.parametrize("fault", ["http", "drop"])
async def test_vk_outage_while_sending_is_retried_and_the_reply_arrives_once(
    vk, bot, sessions, fault
):
    if fault == "http":
        vk.fail_http("messages.send", count=2, status=502)
    else:
        vk.drop_next("messages.send", count=2)
    vk.send_text(ANNA, "Где оплатить налог?")

    [row] = await delivered(sessions, 1)

    assert len(vk.sent_to(ANNA)) == 1
    assert row.delivery_status == DeliveryStatus.SENT


async def test_citizen_who_disallowed_messages_is_recorded_and_others_are_served(
    vk, bot, sessions
):
    vk.block_peer(ANNA)
    vk.send_text(ANNA, "Вопрос от Анны")
    vk.send_text(BORIS, "Вопрос от Бориса")

    [to_boris] = await vk.wait_sent(BORIS)
    rows = await delivered(sessions, 2)

    assert to_boris.text == "Ответ на вопрос: Вопрос от Бориса"
    assert vk.sent_to(ANNA) == []
    statuses = {row.chat_id: row.delivery_status for row in rows}
    assert statuses == {str(ANNA): DeliveryStatus.BLOCKED, str(BORIS): DeliveryStatus.SENT}
    assert bot.alive


async def test_redelivered_event_is_answered_once(vk, bot, dialogue, inbox_rows):
    event = vk.send_text(ANNA, "Первый вопрос")
    await vk.wait_sent(ANNA)

    vk.push_event(event)
    vk.send_text(ANNA, "Второй вопрос")
    await vk.wait_sent(ANNA, 2)

    assert [m.text for m in vk.sent_to(ANNA)] == [
        "Ответ на вопрос: Первый вопрос",
        "Ответ на вопрос: Второй вопрос",
    ]
    assert [turn.text for turn in dialogue.turns] == ["Первый вопрос", "Второй вопрос"]
    assert [row.update_key for row in await inbox_rows()].count(event["event_id"]) == 1


@pytest.mark.parametrize("code", [1, 2, 3])
async def test_long_poll_failure_is_recovered(vk, bot, code):
    await vk.wait_until(lambda: vk.calls("longpoll"))
    servers_before = len(vk.calls("groups.getLongPollServer"))

    vk.fail_longpoll(code)
    await vk.wait_until(lambda: not vk.has_longpoll_failure and len(vk.calls("longpoll")) >= 2)
    vk.send_text(ANNA, "Вопрос после сбоя")

    [sent] = await vk.wait_sent(ANNA)
    assert sent.text == "Ответ на вопрос: Вопрос после сбоя"
    new_servers = len(vk.calls("groups.getLongPollServer")) - servers_before
    assert new_servers == (0 if code == 1 else 1)


async def test_events_that_arrive_while_the_key_is_renewed_are_not_lost(vk, bot):
    await vk.wait_until(lambda: vk.calls("longpoll"))

    vk.fail_longpoll(2)
    vk.send_text(ANNA, "Вопрос во время смены ключа")

    [sent] = await vk.wait_sent(ANNA)
    assert sent.text == "Ответ на вопрос: Вопрос во время смены ключа"


@pytest.mark.parametrize("fault", ["http", "drop"])
async def test_long_poll_server_outage_is_survived(vk, bot, fault):
    await vk.wait_until(lambda: vk.calls("longpoll"))
    if fault == "http":
        vk.fail_http("longpoll", count=2, status=500)
    else:
        vk.drop_next("longpoll", count=2)
    vk.fail_longpoll(1)  # release the request being held, so the faults are met next

    await vk.wait_until(lambda: len(vk.calls("longpoll")) >= 4)
    vk.send_text(ANNA, "Есть кто живой?")

    assert (await vk.wait_sent(ANNA))[0].text == "Ответ на вопрос: Есть кто живой?"


async def test_message_stored_but_not_answered_before_a_crash_is_answered_at_next_start(
    vk, run_bot, dialogue, inbox_rows, sessions
):
    dialogue.hold = asyncio.Event()
    async with run_bot() as first:
        vk.send_text(ANNA, "Вопрос перед сбоем")
        async with asyncio.timeout(5):
            while not dialogue.turns:  # stored, and the dialogue thinks
                await asyncio.sleep(0.01)
        await first.crash()
    assert [row.status for row in await inbox_rows()] == [InboxStatus.PENDING]
    async with sessions() as session:
        [stored] = (await session.scalars(select(Message))).all()
    assert (stored.direction, stored.handled_at) == (Direction.IN, None)
    polls_before = len(vk.calls("longpoll"))

    dialogue.hold = None
    async with run_bot():
        [sent] = await vk.wait_sent(ANNA)
        await vk.wait_until(lambda: len(vk.calls("longpoll")) > polls_before)
        await delivered(sessions, 1)

    assert sent.text == "Ответ на вопрос: Вопрос перед сбоем"
    assert [row.status for row in await inbox_rows()] == [InboxStatus.DONE]
    assert [turn.retry for turn in dialogue.turns] == [False, True]
    assert len(vk.sent_to(ANNA)) == 1


async def test_a_turn_finishing_while_the_bot_stops_still_gets_its_reply_sent(
    vk, run_bot, dialogue, sessions
):
    """An orderly stop lets running turns finish, and only then stops the sender: the
    reply of a turn that ends in the grace time goes out before the bot stops, and
    nothing of the bot is left running on the database."""
    dialogue.hold = asyncio.Event()
    async with run_bot() as bot:
        vk.send_text(ANNA, "Вопрос при остановке")
        async with asyncio.timeout(5):
            while not dialogue.turns:  # stored, and the dialogue thinks
                await asyncio.sleep(0.01)
        stopping = asyncio.create_task(bot.shutdown())
        await asyncio.sleep(0.3)  # the bot is stopping; the turn is still thinking
        assert not stopping.done()
        dialogue.hold.set()
        await stopping
        left = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("outbox-")]
        assert left == []  # the reply was sent by the sender, not by a lane it left behind

    assert [m.text for m in vk.sent_to(ANNA)] == ["Ответ на вопрос: Вопрос при остановке"]
    [row] = await outbound(sessions)
    assert row.delivery_status == DeliveryStatus.SENT


async def test_messages_sent_while_the_bot_was_down_are_handled_after_the_restart(vk, run_bot):
    async with run_bot():
        vk.send_text(ANNA, "Первый")
        await vk.wait_sent(ANNA)
    vk.send_text(ANNA, "Пока бот лежал")

    async with run_bot():
        sent = await vk.wait_sent(ANNA, 2)

    assert sent[1].text == "Ответ на вопрос: Пока бот лежал"


async def test_a_reply_sent_before_a_crash_but_not_recorded_is_not_sent_twice(
    vk, run_bot, handler, sessions
):
    """VK drops a second send with the same random_id: the outbox resends a reply whose
    delivery was not recorded, and the citizen still sees it once."""
    replies = await handler.handle(
        make_message("Уже доставлен?", user_id=str(ANNA), channel=Channel.VK)
    )
    async with run_bot():
        await delivered(sessions, 1)
    async with sessions() as session:  # as if the record of the delivery was lost
        row = await session.get(Message, replies[0].outbox_id)
        row.delivery_status, row.delivered_at, row.parts_sent = DeliveryStatus.PENDING, None, 0
        await session.commit()

    async with run_bot():
        await delivered(sessions, 1)
        await asyncio.sleep(0.3)

    assert [m.text for m in vk.sent_to(ANNA)] == ["Ответ на вопрос: Уже доставлен?"]
    assert len(vk.calls("messages.send")) == 2
