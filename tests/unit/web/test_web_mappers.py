"""The widget's messages at the edges: what the inbox keeps → the visitor's message, and
a stored row → the frame a browser shows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bots.web.frames import Outgoing
from bots.web.mappers import MalformedUpdate, payload_of, row_frame, update_to_message
from bots.web.photos import PhotoStore
from core.domain import Channel, Direction, MessageKind
from core.models import Message

AT = datetime(2026, 3, 11, 9, 30, tzinfo=UTC)
ID = "0123456789abcdef"


def test_a_text_a_button_and_a_photo_as_messages():
    text = update_to_message(payload_of("v1", Outgoing("text", ID, "Где МФЦ?"), None, AT))
    assert (text.channel, text.kind, text.text) == (Channel.WEB, MessageKind.TEXT, "Где МФЦ?")
    assert (text.user_id, text.chat_id, text.dedup_key) == ("v1", "v1", f"v1:{ID}")
    assert text.sent_at == AT and text.display_name == "Посетитель сайта"
    button = update_to_message(
        payload_of("v1", Outgoing("button", ID, "👍 Помогло", "fh:3"), None, AT)
    )
    assert (button.kind, button.payload, button.text) == (MessageKind.BUTTON, "fh:3", "👍 Помогло")
    name = "a" * 32 + ".jpg"
    url = f"https://chat.example.ru/widget/files/{name}"
    photo = update_to_message(payload_of("v1", Outgoing("photo", ID, "яма", file=name), url, AT))
    assert photo.kind is MessageKind.PHOTO
    assert photo.attachments == ({"type": "photo", "file": name, "url": url},)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        {"visitor": "v1", "client_id": ID, "kind": "sticker", "text": ""},
        {"visitor": 5, "client_id": ID, "kind": "text", "text": ""},
        {"visitor": "v1", "client_id": ID, "kind": "text"},
        {"visitor": "v1", "client_id": ID, "kind": "button", "text": "x"},
        {"visitor": "v1", "client_id": ID, "kind": "photo", "text": "", "photo": "x"},
    ],
)
def test_malformed_payloads(payload):
    with pytest.raises(MalformedUpdate):
        update_to_message(payload)


def test_stored_rows_as_frames(tmp_path):
    photos = PhotoStore(tmp_path, b"k" * 32)
    inbound = Message(id=7, direction=Direction.IN, dedup_key=f"v1:{ID}", text="Вопрос",
                      chat_id="v1", created_at=AT, attachments=None)  # fmt: skip
    frame = row_frame(inbound, photos)
    assert (frame["id"], frame["from"], frame["client_id"]) == (7, "visitor", ID)
    assert frame["at"] == "2026-03-11T09:30:00+00:00"
    bot = Message(id=8, direction=Direction.OUT, text="Ответ", chat_id="v1", created_at=AT,
                  buttons=[[{"text": "👍 Помогло", "payload": "fh:1"}]])  # fmt: skip
    assert row_frame(bot, photos)["from"] == "bot"
    assert row_frame(bot, photos)["buttons"] == [[{"text": "👍 Помогло", "payload": "fh:1"}]]
    operator = Message(
        id=9, direction=Direction.OUT, text="", chat_id="v1", created_at=AT,
        author="operator:9001",
        attachments=[{"type": "telegram_message", "kind": "voice", "file_id": "f1"}],
    )  # fmt: skip
    frame = row_frame(operator, photos)
    assert frame["from"] == "operator"
    assert (
        frame["text"]
        == "(Оператор отправил голосовое сообщение; в чате на сайте это не показать.)"
    )
