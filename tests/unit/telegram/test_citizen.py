from aiogram import Dispatcher

from bots.telegram.citizen import build_citizen_router
from core.domain import DeliveryStatus, MessageKind
from tests.factories import make_tg_callback, make_tg_media, make_tg_update
from tests.fakes import FakeConversationHandler
from tests.unit.telegram.doubles import api_error


async def test_private_question_gets_the_services_reply(
    dispatcher, bot, session, service, to_update
):
    await dispatcher.feed_update(bot, to_update(make_tg_update("Как оплатить ЖКУ?")))
    [incoming] = service.messages
    assert (incoming.kind, incoming.text) == (MessageKind.TEXT, "Как оплатить ЖКУ?")
    [sent] = session.sent()
    assert (sent.chat_id, sent.text) == (1001, "Ответ на вопрос: Как оплатить ЖКУ?")
    assert service.statuses() == [DeliveryStatus.SENT]


async def test_photo_gets_a_reply_too(dispatcher, bot, session, service, to_update):
    await dispatcher.feed_update(bot, to_update(make_tg_update(None, **make_tg_media("photo"))))
    assert [m.text for m in session.sent()] == ["Получено: photo"]


async def test_service_can_be_passed_per_update(bot, session, to_update, sender):
    dispatcher = Dispatcher()
    dispatcher.include_router(build_citizen_router())
    other = FakeConversationHandler()
    await dispatcher.feed_update(bot, to_update(make_tg_update()), service=other, sender=sender)
    assert len(other.messages) == 1


async def test_group_messages_are_ignored(dispatcher, bot, session, service, to_update):
    update = to_update(make_tg_update("Коллеги, привет", chat_type="supergroup"))
    await dispatcher.feed_update(bot, update)
    assert service.messages == []
    assert session.calls == []


async def test_button_press_is_answered_at_once_then_handled(
    dispatcher, bot, session, service, to_update
):
    await dispatcher.feed_update(bot, to_update(make_tg_callback("fn:3", query_id="555")))
    methods = [call.__api_method__ for call in session.calls]
    assert methods == ["answerCallbackQuery", "sendMessage"]
    assert session.calls[0].callback_query_id == "555"
    [incoming] = service.messages
    assert (incoming.kind, incoming.payload, incoming.dedup_key) == (
        MessageKind.BUTTON,
        "fn:3",
        "cb:555",
    )


async def test_stale_callback_query_still_reaches_the_service(
    dispatcher, bot, session, service, to_update
):
    session.queue(
        "answerCallbackQuery",
        api_error(400, "Bad Request: query is too old and response timeout expired"),
    )
    await dispatcher.feed_update(bot, to_update(make_tg_callback()))
    assert len(service.messages) == 1
    assert len(session.sent()) == 1


async def test_blocked_citizen_does_not_break_the_handler(
    dispatcher, bot, session, service, to_update
):
    session.queue("sendMessage", api_error(403, "Forbidden: bot was blocked by the user"))
    await dispatcher.feed_update(bot, to_update(make_tg_update()))
    assert service.statuses() == [DeliveryStatus.BLOCKED]
