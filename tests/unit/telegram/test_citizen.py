"""The citizen router: a private message or button press becomes a turn of the
conversation service, and the outbox is woken for the chat (the router sends nothing)."""

from aiogram import Dispatcher

from bots.telegram.citizen import build_citizen_router
from core.domain import MessageKind
from tests.factories import make_tg_callback, make_tg_media, make_tg_update
from tests.fakes import FakeConversationHandler, RecordingOutbox
from tests.unit.telegram.doubles import api_error


async def test_private_question_goes_to_the_service_and_wakes_the_outbox(
    dispatcher, bot, session, service, outbox, to_update
):
    await dispatcher.feed_update(bot, to_update(make_tg_update("Как оплатить ЖКУ?")))
    [incoming] = service.messages
    assert (incoming.kind, incoming.text) == (MessageKind.TEXT, "Как оплатить ЖКУ?")
    assert outbox.woken == ["1001"]
    assert session.sent() == []  # the outbox sends, not the handler


async def test_photo_is_a_turn_too(dispatcher, bot, service, to_update):
    await dispatcher.feed_update(bot, to_update(make_tg_update(None, **make_tg_media("photo"))))
    assert [m.kind for m in service.messages] == [MessageKind.PHOTO]


async def test_a_redelivered_message_wakes_nothing(dispatcher, bot, service, outbox, to_update):
    update = make_tg_update("Вопрос")
    await dispatcher.feed_update(bot, to_update(update))
    await dispatcher.feed_update(bot, to_update(update))
    assert len(service.messages) == 1
    assert outbox.woken == ["1001"]


async def test_service_can_be_passed_per_update(bot, to_update):
    dispatcher = Dispatcher()
    dispatcher.include_router(build_citizen_router())
    other, outbox = FakeConversationHandler(), RecordingOutbox()
    await dispatcher.feed_update(bot, to_update(make_tg_update()), service=other, outbox=outbox)
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
    assert [call.__api_method__ for call in session.calls] == ["answerCallbackQuery"]
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
