"""The Telegram channel in polling mode with the real conversation service and outbox
(an echo dialogue answers, so replies are predictable)."""

import asyncio

from sqlalchemy import select

from core.domain import DeliveryStatus, Direction, MessageKind
from core.inbox import InboxStatus
from core.models import Identity, InboxUpdate, Message
from tests.factories import make_message
from tests.fakes import outbound, wait_for


async def delivered(sessions, count: int) -> None:
    async def done() -> bool:
        rows = await outbound(sessions)
        return sum(r.delivery_status != DeliveryStatus.PENDING for r in rows) >= count

    await wait_for(done)


async def test_question_gets_the_reply(tg, start_bot, sessions):
    bot = await start_bot()
    tg.citizen(1001, "Анна").send_text("Как получить справку о составе семьи?")
    [reply] = await tg.wait_for_messages(1001, 1)
    assert reply["text"] == "Ответ на вопрос: Как получить справку о составе семьи?"
    buttons = reply["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["fh:1", "fn:1"]
    await delivered(sessions, 1)
    [stored] = await outbound(sessions)
    assert stored.delivery_status == DeliveryStatus.SENT
    assert stored.external_id == str(reply["message_id"])
    assert "parse_mode" not in tg.requests("sendMessage")[0].params
    assert bot.alive()


async def test_photo_gets_the_dialogues_reply(tg, start_bot, dialogue):
    await start_bot()
    tg.citizen(1001).send_photo(caption="Яма у дома 5")
    [reply] = await tg.wait_for_messages(1001, 1)
    assert reply["text"] == "Получено: photo"
    [turn] = dialogue.turns
    assert (turn.kind, turn.text) == (MessageKind.PHOTO, "Яма у дома 5")


async def test_start_command_and_button_press(tg, start_bot):
    await start_bot()
    anna = tg.citizen(1001)
    anna.send_command("start")
    welcome = (await tg.wait_for_messages(1001, 1))[0]
    assert welcome["text"].startswith("Здравствуйте! Это виртуальный помощник: Тестовая")
    anna.send_text("Где оплатить ЖКУ?")
    _, answer = await tg.wait_for_messages(1001, 2)
    press = anna.press_button(answer, "fn:1")
    replies = await tg.wait_for_messages(1001, 3)
    assert replies[2]["text"] == "Спасибо, ваша оценка уже учтена."  # no such search
    assert press["callback_query"]["id"] in tg.state.callback_answers


async def test_rate_limit_is_waited_out_and_the_message_still_arrives(tg, start_bot, sessions):
    await start_bot()
    tg.fail_next("sendMessage", status=429, retry_after=1)
    tg.citizen(1001).send_text("Когда отключат горячую воду?")
    [reply] = await tg.wait_for_messages(1001, 1)
    assert reply["text"].startswith("Ответ на вопрос")
    assert [r.status for r in tg.requests("sendMessage")] == [429, 200]
    sends = tg.requests("sendMessage")
    assert sends[1].at - sends[0].at >= 0.9  # retry_after was honoured
    await delivered(sessions, 1)
    assert [r.delivery_status for r in await outbound(sessions)] == [DeliveryStatus.SENT]


async def test_dropped_connections_and_5xx_are_retried(tg, start_bot):
    await start_bot()
    tg.drop_next("sendMessage")
    tg.fail_next("sendMessage", status=502)
    tg.citizen(1001).send_text("Вопрос")
    await tg.wait_for_messages(1001, 1)
    assert [r.status for r in tg.requests("sendMessage")] == [None, 502, 200]


async def test_blocked_citizen_does_not_crash_and_others_are_still_served(
    tg, start_bot, dialogue, sessions
):
    bot = await start_bot()
    dialogue.hold = asyncio.Event()
    anna, boris = tg.citizen(1001), tg.citizen(2002)
    anna.send_text("Вопрос Анны")
    boris.send_text("Вопрос Бориса")
    await tg.wait_for_request("getUpdates", lambda p: p.get("offset", 0) > 2)
    tg.block(anna.chat_id)
    dialogue.hold.set()
    await tg.wait_for_messages(2002, 1)
    await delivered(sessions, 2)
    statuses = {r.chat_id: r.delivery_status for r in await outbound(sessions)}
    assert statuses == {"1001": DeliveryStatus.BLOCKED, "2002": DeliveryStatus.SENT}
    async with sessions() as session:
        query = select(Identity.blocked_at).where(Identity.chat_id == "1001")
        blocked = await session.scalar(query)
    assert blocked is not None
    assert tg.messages(1001) == []
    boris.send_text("Ещё вопрос")
    await tg.wait_for_messages(2002, 2)
    assert bot.alive()


async def test_redelivered_update_is_answered_once(tg, start_bot, dialogue):
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
    assert [t.text for t in dialogue.turns] == ["Первый вопрос", "Второй вопрос"]


async def test_message_stored_but_not_answered_before_a_crash_is_answered_at_next_start(
    tg, start_bot, dialogue, inbox, sessions
):
    """The conversation service stored the message, then the process died in the middle
    of the turn: the next run answers it (once)."""
    dialogue.hold = asyncio.Event()
    first_run = await start_bot()
    update = tg.citizen(1001).send_text("Вопрос перед сбоем")
    await tg.wait_for_request("getUpdates", lambda p: p.get("offset", 0) > update["update_id"])
    async with asyncio.timeout(5):
        while not dialogue.turns:  # the message is stored and the dialogue thinks
            await asyncio.sleep(0.01)
    await first_run.crash()
    assert tg.state.queue == []  # Telegram considers the update delivered
    async with sessions() as session:
        stored = (await session.scalars(select(Message))).all()
    assert [(m.direction, m.text, m.handled_at) for m in stored] == [
        (Direction.IN, "Вопрос перед сбоем", None)
    ]
    assert tg.messages(1001) == []

    dialogue.hold = None
    await start_bot()
    [reply] = await tg.wait_for_messages(1001, 1)
    assert reply["text"] == "Ответ на вопрос: Вопрос перед сбоем"
    assert [t.retry for t in dialogue.turns] == [False, True]
    await delivered(sessions, 1)
    assert await inbox.unprocessed("telegram") == []
    await asyncio.sleep(0.5)
    assert len(tg.messages(1001)) == 1


async def test_failed_turns_are_retried_in_the_running_process(tg, start_bot, dialogue, sessions):
    await start_bot()
    dialogue.failures = 2
    tg.citizen(1001).send_text("Вопрос, который сначала не удался")
    [reply] = await tg.wait_for_messages(1001, 1, timeout=10)
    assert reply["text"] == "Ответ на вопрос: Вопрос, который сначала не удался"
    assert [t.retry for t in dialogue.turns] == [False, True, True]

    async def finished() -> bool:
        # The update's done mark is group-committed and may land just after the reply.
        async with sessions() as session:
            [update] = (await session.scalars(select(InboxUpdate))).all()
        return update.status == InboxStatus.DONE

    await wait_for(finished)
    async with sessions() as session:
        [update] = (await session.scalars(select(InboxUpdate))).all()
    assert (update.status, update.attempts) == (InboxStatus.DONE, 3)


async def test_undelivered_replies_are_sent_at_start(tg, start_bot, service, sessions):
    """Replies committed with their turn, the process gone before sending them."""
    tg.citizen(1001)
    replies = await service.handle(make_message("Ответ, не дошедший до сбоя", user_id="1001"))
    assert tg.messages(1001) == []
    await start_bot()
    [reply] = await tg.wait_for_messages(1001, 1)
    assert reply["text"] == "Ответ на вопрос: Ответ, не дошедший до сбоя"
    await delivered(sessions, 1)
    [row] = await outbound(sessions)
    assert row.id == replies[0].outbox_id


async def test_start_up_removes_a_webhook_and_sets_the_command_menu(tg, start_bot):
    await start_bot()
    await tg.wait_for_request("getUpdates")
    methods = [r.method for r in tg.state.requests]
    assert {"deleteWebhook", "setMyCommands"} <= set(methods[:2])
    assert [c["command"] for c in tg.state.commands] == ["start", "help"]
