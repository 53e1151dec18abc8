"""MAX updates as the API delivers them → citizens' messages; what is not a citizen's
dialog is left alone, and a malformed update is named as such."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bots.max.keyboards import build_keyboard
from bots.max.mappers import (
    MalformedUpdate,
    callback_id,
    update_key,
    update_to_edit,
    update_to_message,
)
from bots.max.processing import inbox_key
from core.domain import Button, Channel, MessageKind

T = 1_764_000_000_000  # ms


def created(text: str = "Как записаться к врачу?", **body) -> dict:
    return {
        "update_type": "message_created",
        "timestamp": T,
        "user_locale": "ru-RU",
        "message": {
            "sender": {"user_id": 501, "first_name": "Анна", "last_name": "Иванова",
                       "name": "Анна Иванова", "username": "anna", "is_bot": False},
            "recipient": {"chat_id": 9001, "chat_type": "dialog", "user_id": 77},
            "timestamp": T,
            "body": {"mid": "mid.0001", "seq": 1, "text": text, **body},
        },
    }  # fmt: skip


def test_a_text_message():
    message = update_to_message(created())
    assert message is not None
    assert (message.channel, message.kind, message.text) == (
        Channel.MAX, MessageKind.TEXT, "Как записаться к врачу?",
    )  # fmt: skip
    assert (message.user_id, message.chat_id, message.dedup_key) == ("501", "501", "mid.0001")
    assert (message.display_name, message.username, message.language_code) == (
        "Анна Иванова", "anna", "ru",
    )  # fmt: skip
    assert message.sent_at == datetime.fromtimestamp(T / 1000, UTC)


def test_a_photo_a_file_and_a_location_keep_what_the_operators_need():
    photo = update_to_message(created("", attachments=[
        {"type": "image", "payload": {"photo_id": 1, "token": "tok", "url": "https://i.example/1.jpg"}}
    ]))  # fmt: skip
    assert photo is not None and photo.kind is MessageKind.PHOTO
    assert photo.attachments == ({"type": "photo", "url": "https://i.example/1.jpg", "id": "tok"},)
    doc = update_to_message(created("справка", attachments=[
        {"type": "file", "payload": {"url": "https://f.example/a.pdf", "token": "t2"},
         "filename": "справка.pdf", "size": 10}
    ]))  # fmt: skip
    assert doc is not None and doc.kind is MessageKind.DOCUMENT
    assert doc.attachments[0]["type"] == "doc" and doc.attachments[0]["title"] == "справка.pdf"
    place = update_to_message(
        created("", attachments=[{"type": "location", "latitude": 55.75, "longitude": 37.61}])
    )
    assert place is not None and place.kind is MessageKind.LOCATION
    assert place.attachments == ({"type": "geo", "latitude": 55.75, "longitude": 37.61},)


def test_a_button_press_and_the_start():
    update = {
        "update_type": "message_callback",
        "timestamp": T,
        "callback": {"timestamp": T, "callback_id": "cb-1", "payload": "fb:1:no",
                     "user": {"user_id": 501, "name": "Анна"}},
        "message": created()["message"],
    }  # fmt: skip
    message = update_to_message(update)
    assert message is not None
    assert (message.kind, message.payload, message.dedup_key) == (
        MessageKind.BUTTON, "fb:1:no", "callback:cb-1",
    )  # fmt: skip
    assert callback_id(update) == "cb-1" and update_key(update) == "callback:cb-1"
    started = update_to_message(
        {"update_type": "bot_started", "timestamp": T, "chat_id": 9001,
         "user": {"user_id": 501, "name": "Анна"}}
    )  # fmt: skip
    assert started is not None
    assert (started.kind, started.command) == (MessageKind.COMMAND, "start")


def test_what_is_not_a_citizens_dialog_is_left_alone():
    group = created()
    group["message"]["recipient"]["chat_type"] = "chat"
    assert update_to_message(group) is None
    bot = created()
    bot["message"]["sender"]["is_bot"] = True
    assert update_to_message(bot) is None
    assert update_to_message({"update_type": "dialog_muted", "timestamp": T}) is None


@pytest.mark.parametrize(
    "update",
    [
        [],
        "garbage",
        {"update_type": "message_created"},
        {"update_type": "message_created", "message": {"body": {"mid": "m"}}},
        {"update_type": "message_created",
         "message": {"sender": {"user_id": "501"}, "body": {"mid": "m"}}},
        {"update_type": "message_created",
         "message": {"sender": {"user_id": 501}, "body": {"mid": "m", "text": 5}}},
        {"update_type": "message_callback", "callback": {"payload": "x"}},
        {"update_type": "bot_started", "user": {"user_id": 2**70}},
    ],
)  # fmt: skip
def test_malformed_updates_are_named(update):
    with pytest.raises(MalformedUpdate):
        update_to_message(update)


def test_an_edit_and_the_inbox_keys():
    edited = created("исправлено")
    edited["update_type"] = "message_edited"
    message = update_to_edit(edited)
    assert message is not None and (message.dedup_key, message.text) == ("mid.0001", "исправлено")
    assert inbox_key(created()) == "message_created:mid.0001"
    assert inbox_key(edited) == f"message_edited:mid.0001:{T}"
    # An update without an id is keyed by its content: the same garbage twice is one.
    assert inbox_key({"x": 1}) == inbox_key({"x": 1}) != inbox_key({"x": 2})


def test_the_keyboard_keeps_rows_and_cuts_long_labels():
    rows = ((Button("Да", "y"), Button("Нет", "n")), (Button("о" * 80, "op"),))
    keyboard = build_keyboard(rows)
    assert keyboard is not None
    dumped = keyboard.model_dump(mode="json")
    assert dumped["type"] == "inline_keyboard"
    buttons = dumped["payload"]["buttons"]
    assert [[b["text"] for b in row] for row in buttons] == [["Да", "Нет"], ["о" * 63 + "…"]]
    assert {b["type"] for row in buttons for b in row} == {"callback"}
    assert [b["payload"] for row in buttons for b in row] == ["y", "n", "op"]
    assert build_keyboard(()) is None
    assert build_keyboard(((Button("x", "p" * 300),),)) is None
