from datetime import UTC, datetime

import pytest

from bots.telegram.mappers import map_callback, map_message, map_update
from core.domain import Channel, IncomingMessage, MessageKind
from tests.factories import make_tg_callback, make_tg_media, make_tg_update


def test_text_message_carries_who_where_and_when(to_update):
    update = make_tg_update("Когда вывезут мусор?", user_id=1001, message_id=17, update_id=5)
    update["message"]["from"].update(last_name="Петров", username="ivan_p")

    assert map_update(to_update(update)) == IncomingMessage(
        channel=Channel.TELEGRAM,
        dedup_key="1001:17",
        user_id="1001",
        chat_id="1001",
        kind=MessageKind.TEXT,
        text="Когда вывезут мусор?",
        display_name="Иван Петров",
        username="ivan_p",
        language_code="ru",
        sent_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("/start", "start"),
        ("/start from_site", "start"),
        ("/help@djinn_test_bot", "help"),
        ("/Operator", "operator"),
    ],
)
def test_slash_commands_become_commands(to_update, text, command):
    incoming = map_update(to_update(make_tg_update(text)))
    assert (incoming.kind, incoming.command, incoming.text) == (
        MessageKind.COMMAND,
        command,
        text,
    )


@pytest.mark.parametrize("text", ["/ пробел", "1/2 ставки", "/путь/к/файлу"])
def test_slashes_that_are_not_commands_stay_text(to_update, text):
    incoming = map_update(to_update(make_tg_update(text)))
    assert (incoming.kind, incoming.command) == (MessageKind.TEXT, None)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("photo", MessageKind.PHOTO),
        ("voice", MessageKind.VOICE),
        ("video", MessageKind.VIDEO),
        ("video_note", MessageKind.VIDEO_NOTE),
        ("audio", MessageKind.AUDIO),
        ("sticker", MessageKind.STICKER),
        ("document", MessageKind.DOCUMENT),
    ],
)
def test_media_keep_caption_and_file_ids(to_update, kind, expected):
    update = make_tg_update(None, caption="Вот фото ямы", **make_tg_media(kind))
    incoming = map_update(to_update(update))
    assert incoming.kind is expected
    assert incoming.text == "Вот фото ямы"
    [attachment] = incoming.attachments
    assert attachment["type"] == kind
    assert attachment["file_id"] == f"{kind}-file-id"
    assert attachment["file_unique_id"] == f"{kind}-unique"


def test_photo_attachment_is_the_largest_size(to_update):
    incoming = map_update(to_update(make_tg_update(None, **make_tg_media("photo"))))
    assert incoming.attachments[0]["file_id"] == "photo-file-id"
    assert incoming.text == ""


def test_document_and_sticker_keep_their_details(to_update):
    document = map_update(to_update(make_tg_update(None, **make_tg_media("document"))))
    sticker = map_update(to_update(make_tg_update(None, **make_tg_media("sticker"))))
    assert document.attachments[0]["file_name"] == "заявление.pdf"
    assert sticker.attachments[0]["emoji"] == "🙏"


def test_location_and_contact(to_update):
    location = map_update(to_update(make_tg_update(None, **make_tg_media("location"))))
    contact = map_update(to_update(make_tg_update(None, **make_tg_media("contact"))))
    assert location.kind is MessageKind.LOCATION
    assert location.attachments == ({"type": "location", "latitude": 55.75, "longitude": 37.62},)
    assert contact.kind is MessageKind.CONTACT
    assert contact.attachments[0]["phone_number"] == "+79001234567"


def test_anything_else_is_other(to_update):
    dice = {"dice": {"emoji": "🎲", "value": 3}}
    incoming = map_update(to_update(make_tg_update(None, **dice)))
    assert (incoming.kind, incoming.text, incoming.attachments) == (MessageKind.OTHER, "", ())


@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
def test_group_messages_are_not_for_the_citizen_flow(to_update, chat_type):
    update = to_update(make_tg_update("Всем привет", chat_type=chat_type))
    assert map_message(update.message) is None


def test_button_press(to_update):
    update = to_update(make_tg_callback("fn:12", query_id="777", label="👎 Не помогло"))
    incoming = map_update(update)
    assert incoming == IncomingMessage(
        channel=Channel.TELEGRAM,
        dedup_key="cb:777",
        user_id="1001",
        chat_id="1001",
        kind=MessageKind.BUTTON,
        text="👎 Не помогло",
        payload="fn:12",
        display_name="Иван",
        language_code=None,
    )


def test_button_press_in_a_group_is_not_for_the_citizen_flow(to_update):
    update = to_update(make_tg_callback(chat_type="supergroup"))
    assert map_callback(update.callback_query) is None


def test_other_update_types_map_to_nothing(to_update):
    edited = {"update_id": 3, "edited_message": make_tg_update()["message"]}
    assert map_update(to_update(edited)) is None


def test_unpaired_surrogates_are_replaced_before_anything_stores_them(to_update):
    update = make_tg_update("Вопрос \ud800 с мусором")
    update["message"]["from"]["first_name"] = "Ив\udc00ан"
    incoming = map_update(to_update(update))
    assert incoming.text == "Вопрос \ufffd с мусором"
    assert incoming.display_name == "Ив\ufffdан"
    incoming.text.encode("utf-8")


def test_nul_characters_are_dropped_before_anything_stores_them(to_update):
    """PostgreSQL refuses NUL in text: the message would fail its turn every time."""
    update = make_tg_update("Во\x00прос\x00")
    update["message"]["from"]["first_name"] = "Ив\x00ан"
    incoming = map_update(to_update(update))
    assert (incoming.text, incoming.display_name) == ("Вопрос", "Иван")
