import asyncio
import json

import pytest

from core.domain import Channel, DeliveryStatus, MessageKind, Reply
from nlu import texts
from tests.fakes import RecordedDelivery

ANNA, BORIS = 5001, 5002


async def test_question_gets_the_reply_with_a_vk_keyboard(vk, bot, handler):
    vk.send_text(ANNA, "Как записаться на приём к главе?")

    [sent] = await vk.wait_sent(ANNA)

    assert sent.text == "Ответ на вопрос: Как записаться на приём к главе?"
    assert sent.keyboard["inline"] is True
    labels = [button["action"]["label"] for button in sent.keyboard["buttons"][0]]
    assert labels == [texts.BUTTON_HELPED, texts.BUTTON_NOT_HELPED]
    assert json.loads(sent.keyboard["buttons"][0][1]["action"]["payload"]) == {"c": "fn:1"}
    await handler.wait_until(lambda: handler.delivery(1))
    assert handler.delivery(1) == RecordedDelivery(1, DeliveryStatus.SENT, str(sent.id), None)


async def test_button_press_reaches_the_handler_as_its_payload(vk, bot, handler):
    vk.press_button(ANNA, "Не помогло", {"c": "fn:1"})

    [sent] = await vk.wait_sent(ANNA)

    assert sent.text == "Нажата кнопка: fn:1"
    assert handler.messages[0].kind is MessageKind.BUTTON


async def test_callback_button_press_is_acknowledged_and_handled(vk, bot, handler):
    vk.press_callback_button(ANNA, {"c": "fh:1"})

    [sent] = await vk.wait_sent(ANNA)

    assert sent.text == "Нажата кнопка: fh:1"
    [answer] = vk.event_answers
    assert answer["peer_id"] == str(ANNA)


async def test_photo_gets_the_handlers_reply(vk, bot, handler):
    vk.send_attachment(ANNA, "photo", "Яма у подъезда")

    [sent] = await vk.wait_sent(ANNA)

    assert sent.text == "Получено: photo"
    [message] = handler.messages
    assert message.text == "Яма у подъезда"
    assert message.attachments[0]["id"].startswith(f"photo{ANNA}_")


async def test_citizen_name_comes_from_users_get(vk, bot, handler):
    vk.users[ANNA] = ("Анна", "Смирнова")
    vk.send_text(ANNA, "Здравствуйте")

    await vk.wait_sent(ANNA)

    assert handler.messages[0].display_name == "Анна Смирнова"


async def test_rate_limit_is_waited_out_and_the_reply_arrives_once(vk, bot, handler):
    vk.fail_next("messages.send", count=3)
    vk.send_text(ANNA, "Когда вывезут мусор?")

    await vk.wait_sent(ANNA)
    await handler.wait_until(lambda: handler.delivery(1))

    assert len(vk.calls("messages.send")) == 4
    assert len({call.params["random_id"] for call in vk.calls("messages.send")}) == 1
    assert [m.text for m in vk.sent_to(ANNA)] == ["Ответ на вопрос: Когда вывезут мусор?"]
    assert handler.delivery(1).status is DeliveryStatus.SENT


@pytest.mark.parametrize("fault", ["http", "drop"])
async def test_vk_outage_while_sending_is_retried_and_the_reply_arrives_once(
    vk, bot, handler, fault
):
    if fault == "http":
        vk.fail_http("messages.send", count=2, status=502)
    else:
        vk.drop_next("messages.send", count=2)
    vk.send_text(ANNA, "Где оплатить налог?")

    await handler.wait_until(lambda: handler.delivery(1))

    assert len(vk.sent_to(ANNA)) == 1
    assert handler.delivery(1).status is DeliveryStatus.SENT


async def test_citizen_who_disallowed_messages_is_recorded_and_others_are_served(vk, bot, handler):
    vk.block_peer(ANNA)
    vk.send_text(ANNA, "Вопрос от Анны")
    vk.send_text(BORIS, "Вопрос от Бориса")

    [to_boris] = await vk.wait_sent(BORIS)
    await handler.wait_until(lambda: len(handler.deliveries) == 2)

    assert to_boris.text == "Ответ на вопрос: Вопрос от Бориса"
    assert vk.sent_to(ANNA) == []
    statuses = {handler.messages[i].chat_id: handler.delivery(i + 1).status for i in range(2)}
    assert statuses == {str(ANNA): DeliveryStatus.BLOCKED, str(BORIS): DeliveryStatus.SENT}
    assert bot.alive


async def test_redelivered_event_is_answered_once(vk, bot, handler, inbox_rows):
    event = vk.send_text(ANNA, "Первый вопрос")
    await vk.wait_sent(ANNA)

    vk.push_event(event)
    vk.send_text(ANNA, "Второй вопрос")
    await vk.wait_sent(ANNA, 2)

    assert [m.text for m in vk.sent_to(ANNA)] == [
        "Ответ на вопрос: Первый вопрос",
        "Ответ на вопрос: Второй вопрос",
    ]
    assert [message.text for message in handler.calls] == ["Первый вопрос", "Второй вопрос"]
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


async def test_crash_between_storing_and_handling_is_recovered_at_the_next_start(
    vk, run_bot, handler, inbox_rows
):
    async with run_bot(hold=asyncio.Event()) as first:
        vk.send_text(ANNA, "Вопрос перед сбоем")
        await vk.wait_until(lambda: len(vk.calls("longpoll")) >= 2)
        await first.crash()
    assert [row.processed_at for row in await inbox_rows()] == [None]
    polls_before = len(vk.calls("longpoll"))

    async with run_bot(handler):
        [sent] = await vk.wait_sent(ANNA)
        await vk.wait_until(lambda: len(vk.calls("longpoll")) > polls_before)

    assert sent.text == "Ответ на вопрос: Вопрос перед сбоем"
    assert [row.processed_at is not None for row in await inbox_rows()] == [True]
    assert len(vk.sent_to(ANNA)) == 1


async def test_messages_sent_while_the_bot_was_down_are_handled_after_the_restart(
    vk, run_bot, handler
):
    async with run_bot(handler):
        vk.send_text(ANNA, "Первый")
        await vk.wait_sent(ANNA)
    vk.send_text(ANNA, "Пока бот лежал")

    async with run_bot(handler):
        sent = await vk.wait_sent(ANNA, 2)

    assert sent[1].text == "Ответ на вопрос: Пока бот лежал"


async def test_pending_replies_are_resent_at_start_without_duplicates(vk, run_bot, handler):
    delivered_before_crash = Reply(Channel.VK, str(ANNA), "Уже доставлен", outbox_id=41)
    never_delivered = Reply(Channel.VK, str(ANNA), "Не доставлен", outbox_id=42)
    handler.pending = [delivered_before_crash, never_delivered]
    async with run_bot(handler):
        await handler.wait_until(lambda: handler.delivery(41))
    handler.forget_deliveries(41)  # the record of the first delivery was lost in a crash

    async with run_bot(handler):
        await handler.wait_until(lambda: handler.delivery(41) and handler.delivery(42))

    assert [m.text for m in vk.sent_to(ANNA)] == ["Уже доставлен", "Не доставлен"]
    assert handler.delivery(41).status is DeliveryStatus.SENT
