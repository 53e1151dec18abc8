import asyncio

from bots.telegram.runner import RunOptions
from core.domain import Channel, DeliveryStatus, MessageKind, Reply


async def test_question_gets_the_reply(tg, start_bot, service):
    bot = await start_bot()
    tg.citizen(1001, "Анна").send_text("Как получить справку о составе семьи?")
    [reply] = await tg.wait_for_messages(1001, 1)
    assert reply["text"] == "Ответ на вопрос: Как получить справку о составе семьи?"
    buttons = reply["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["fh:1", "fn:1"]
    await service.wait_until(lambda: service.deliveries)
    assert service.deliveries[0].status is DeliveryStatus.SENT
    assert service.deliveries[0].external_id == str(reply["message_id"])
    assert "parse_mode" not in tg.requests("sendMessage")[0].params
    assert bot.alive()


async def test_photo_gets_the_handlers_reply(tg, start_bot, service):
    await start_bot()
    tg.citizen(1001).send_photo(caption="Яма у дома 5")
    [reply] = await tg.wait_for_messages(1001, 1)
    assert reply["text"] == "Получено: photo"
    [incoming] = service.messages
    assert (incoming.kind, incoming.text) == (MessageKind.PHOTO, "Яма у дома 5")


async def test_start_command_and_button_press(tg, start_bot):
    await start_bot()
    anna = tg.citizen(1001)
    anna.send_command("start")
    anna.send_text("Где оплатить ЖКУ?")
    _, answer = await tg.wait_for_messages(1001, 2)
    press = anna.press_button(answer, "fn:1")
    replies = await tg.wait_for_messages(1001, 3)
    assert [m["text"] for m in replies] == [
        "Команда: start",
        "Ответ на вопрос: Где оплатить ЖКУ?",
        "Нажата кнопка: fn:1",
    ]
    assert press["callback_query"]["id"] in tg.state.callback_answers


async def test_rate_limit_is_waited_out_and_the_message_still_arrives(tg, start_bot, service):
    await start_bot()
    tg.fail_next("sendMessage", status=429, retry_after=1)
    tg.citizen(1001).send_text("Когда отключат горячую воду?")
    [reply] = await tg.wait_for_messages(1001, 1)
    assert reply["text"].startswith("Ответ на вопрос")
    assert [r.status for r in tg.requests("sendMessage")] == [429, 200]
    assert service.statuses() == [DeliveryStatus.SENT]


async def test_dropped_connections_and_5xx_are_retried(tg, start_bot, service):
    await start_bot()
    tg.drop_next("sendMessage")
    tg.fail_next("sendMessage", status=502)
    tg.citizen(1001).send_text("Вопрос")
    await tg.wait_for_messages(1001, 1)
    assert [r.status for r in tg.requests("sendMessage")] == [None, 502, 200]


async def test_blocked_citizen_does_not_crash_and_others_are_still_served(tg, start_bot, service):
    bot = await start_bot()
    service.hold = asyncio.Event()
    anna, boris = tg.citizen(1001), tg.citizen(2002)
    anna.send_text("Вопрос Анны")
    boris.send_text("Вопрос Бориса")
    await tg.wait_for_request("getUpdates", lambda p: p.get("offset", 0) > 2)
    tg.block(anna.chat_id)
    service.hold.set()
    await tg.wait_for_messages(2002, 1)
    await service.wait_until(lambda: len(service.deliveries) >= 2)
    assert sorted(service.statuses()) == [DeliveryStatus.BLOCKED, DeliveryStatus.SENT]
    assert tg.messages(1001) == []
    boris.send_text("Ещё вопрос")
    await tg.wait_for_messages(2002, 2)
    assert bot.alive()


async def test_redelivered_update_is_answered_once(tg, start_bot, service):
    await start_bot()
    anna = tg.citizen(1001)
    first = anna.send_text("Первый вопрос")
    await tg.wait_for_messages(1001, 1)
    tg.redeliver(first["update_id"])
    await tg.wait_until(lambda: not tg.state.queue, what="the re-delivery to be fetched")
    anna.send_text("Второй вопрос")
    replies = await tg.wait_for_messages(1001, 2)
    assert [m["text"] for m in replies] == [
        "Ответ на вопрос: Первый вопрос",
        "Ответ на вопрос: Второй вопрос",
    ]
    assert [m.text for m in service.messages] == ["Первый вопрос", "Второй вопрос"]


async def test_crash_after_storing_is_recovered_from_the_inbox_at_next_start(
    tg, start_bot, service, inbox
):
    service.hold = asyncio.Event()
    first_run = await start_bot(options=RunOptions(poll_timeout=10, shutdown_grace=0))
    update = tg.citizen(1001).send_text("Вопрос перед сбоем")
    await tg.wait_for_request("getUpdates", lambda p: p.get("offset", 0) > update["update_id"])
    await first_run.shutdown()
    assert tg.state.queue == []  # Telegram considers the update delivered
    assert [item.update_key for item in await inbox.unprocessed("telegram")] == ["1"]
    assert tg.messages(1001) == []

    service.hold = None
    await start_bot()
    [reply] = await tg.wait_for_messages(1001, 1)
    assert reply["text"] == "Ответ на вопрос: Вопрос перед сбоем"
    await service.wait_until(lambda: len(service.deliveries) == 1)
    assert await inbox.unprocessed("telegram") == []


async def test_undelivered_replies_are_resent_at_start(tg, start_bot, service):
    tg.citizen(1001)
    service.pending = [Reply(Channel.TELEGRAM, "1001", "Ответ, не дошедший до сбоя", (), 41)]
    await start_bot()
    [reply] = await tg.wait_for_messages(1001, 1)
    assert reply["text"] == "Ответ, не дошедший до сбоя"
    await service.wait_until(lambda: service.deliveries)
    assert service.deliveries[0].outbox_id == 41


async def test_start_up_removes_a_webhook_and_sets_the_command_menu(tg, start_bot):
    await start_bot()
    await tg.wait_for_request("getUpdates")
    assert [r.method for r in tg.state.requests[:2]] == ["deleteWebhook", "setMyCommands"]
    assert [c["command"] for c in tg.state.commands] == ["start", "help"]
