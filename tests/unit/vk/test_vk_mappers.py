from datetime import UTC, datetime

import pytest

from bots.vk.mappers import MalformedEvent, event_to_edit, event_to_message
from core.domain import Channel, MessageKind
from tests.factories import (
    make_vk_attachment,
    make_vk_button_press,
    make_vk_callback_press,
    make_vk_geo,
    make_vk_message,
)


def test_text_message():
    message = event_to_message(make_vk_message("Где МФЦ?", peer_id=42, message_id=7))

    assert message is not None
    assert message.channel is Channel.VK
    assert message.kind is MessageKind.TEXT
    assert message.text == "Где МФЦ?"
    assert (message.user_id, message.chat_id, message.dedup_key) == ("42", "42", "42:7")
    assert message.language_code == "ru"
    assert message.sent_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_dedup_key_falls_back_to_conversation_message_id():
    event = make_vk_message(peer_id=42, message_id=0)
    event["object"]["message"]["conversation_message_id"] = 15

    assert event_to_message(event).dedup_key == "42:15"


def test_display_name_is_passed_through():
    assert event_to_message(make_vk_message(), display_name="Анна Ш.").display_name == "Анна Ш."


def test_our_button_press_is_a_button_with_its_payload():
    message = event_to_message(make_vk_button_press("Не помогло", "fn:12"))

    assert message.kind is MessageKind.BUTTON
    assert message.payload == "fn:12"
    assert message.text == "Не помогло"


@pytest.mark.parametrize(
    "payload",
    [{"command": "start"}, '{"command":"start"}'],
    ids=["object", "string"],
)
def test_vk_start_button_is_the_start_command(payload):
    message = event_to_message(make_vk_message("Начать", payload=payload))

    assert (message.kind, message.command) == (MessageKind.COMMAND, "start")


@pytest.mark.parametrize("text", ["Начать", "начать ", "/start", "/start привет", "Start"])
def test_start_texts_are_the_start_command(text):
    message = event_to_message(make_vk_message(text))

    assert (message.kind, message.command) == (MessageKind.COMMAND, "start")


def test_other_slash_command():
    message = event_to_message(make_vk_message("/Help"))

    assert (message.kind, message.command) == (MessageKind.COMMAND, "help")


@pytest.mark.parametrize(
    "payload",
    ["not json {", "[1, 2]", '{"c": 5}', '{"other": "x"}', '"just a string"', "null"],
)
def test_payload_we_did_not_issue_leaves_a_plain_text(payload):
    message = event_to_message(make_vk_message("Вопрос", payload=payload))

    assert (message.kind, message.payload) == (MessageKind.TEXT, None)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("photo", MessageKind.PHOTO),
        ("audio_message", MessageKind.VOICE),
        ("sticker", MessageKind.STICKER),
        ("doc", MessageKind.DOCUMENT),
        ("video", MessageKind.VIDEO),
        ("audio", MessageKind.AUDIO),
        ("wall", MessageKind.OTHER),
    ],
)
def test_attachment_kinds(kind, expected):
    event = make_vk_message("", attachments=[make_vk_attachment(kind, owner_id=42, item_id=9)])

    message = event_to_message(event)

    assert message.kind is expected
    assert message.attachments[0]["type"] == kind


def test_attachment_ids_can_be_sent_again_by_vk():
    event = make_vk_message("", attachments=[make_vk_attachment("photo", owner_id=42, item_id=9)])

    assert event_to_message(event).attachments == ({"type": "photo", "id": "photo42_9_k3y"},)


def test_sticker_id():
    event = make_vk_message("", attachments=[make_vk_attachment("sticker", item_id=163)])

    assert event_to_message(event).attachments == ({"type": "sticker", "id": "163"},)


def test_files_keep_where_the_operators_can_fetch_them():
    doc = make_vk_attachment("doc", owner_id=42, item_id=9)
    doc["doc"] |= {"title": "заявление.pdf", "url": "https://vk.com/doc42_9?hash=h&dl=1"}
    voice = make_vk_attachment("audio_message", owner_id=42, item_id=10)
    voice["audio_message"] |= {"link_ogg": "https://psv4.userapi.com/v.ogg", "link_mp3": "x"}
    sticker = make_vk_attachment("sticker", item_id=163)
    sticker["sticker"]["images"] = [
        {"url": "https://vk.com/sticker/1-163-512", "width": 512, "height": 512},
        {"url": "https://vk.com/sticker/1-163-64", "width": 64, "height": 64},
    ]
    video = make_vk_attachment("video", owner_id=-1, item_id=11)
    event = make_vk_message("", attachments=[doc, voice, sticker, video])

    assert event_to_message(event).attachments == (
        {"type": "doc", "id": "doc42_9_k3y", "title": "заявление.pdf",
         "url": "https://vk.com/doc42_9?hash=h&dl=1"},
        {"type": "audio_message", "id": "audio_message42_10_k3y",
         "url": "https://psv4.userapi.com/v.ogg"},
        {"type": "sticker", "id": "163", "url": "https://vk.com/sticker/1-163-512"},
        {"type": "video", "id": "video-1_11_k3y", "url": "https://vk.com/video-1_11"},
    )  # fmt: skip


def test_an_edit_is_the_edited_message_with_its_new_text():
    original = make_vk_message("Адрес: Мира, 5", peer_id=42, message_id=7)
    edit = {**original, "type": "message_edit", "object": original["object"]["message"]}
    edit["object"] = {**edit["object"], "text": "Адрес: Мира, 7", "update_time": 1767225700}

    message = event_to_edit(edit)

    assert message is not None
    assert (message.dedup_key, message.text) == (
        event_to_message(original).dedup_key,
        "Адрес: Мира, 7",
    )
    assert event_to_message(edit) is None  # not a new message to answer
    assert event_to_edit(original) is None


def test_an_edit_of_our_own_message_is_nothing_and_a_broken_one_is_malformed():
    ours = make_vk_message("ответ", peer_id=42)
    ours["object"]["message"]["out"] = 1
    assert event_to_edit({"type": "message_edit", "object": ours["object"]["message"]}) is None
    with pytest.raises(MalformedEvent):
        event_to_edit({"type": "message_edit", "object": "x"})


def test_photo_with_caption_keeps_the_caption():
    event = make_vk_message("Вот яма во дворе", attachments=[make_vk_attachment("photo")])

    message = event_to_message(event)

    assert (message.kind, message.text) == (MessageKind.PHOTO, "Вот яма во дворе")


def test_geo_is_a_location():
    message = event_to_message(make_vk_message("", geo=make_vk_geo(55.75, 37.62)))

    assert message.kind is MessageKind.LOCATION
    assert message.attachments == ({"type": "geo", "latitude": 55.75, "longitude": 37.62},)


def test_empty_message_is_other():
    event = make_vk_message("")
    event["object"]["message"]["fwd_messages"] = [{"text": "пересланное"}]

    assert event_to_message(event).kind is MessageKind.OTHER


def test_callback_button_press_is_a_button():
    message = event_to_message(make_vk_callback_press({"c": "fh:3"}, peer_id=42))

    assert (message.kind, message.payload, message.chat_id) == (MessageKind.BUTTON, "fh:3", "42")
    assert message.dedup_key == "42:event:3f1d2c"


def test_callback_button_with_foreign_payload_is_ignored():
    assert event_to_message(make_vk_callback_press({"x": 1})) is None


@pytest.mark.parametrize(
    "event",
    [
        {"type": "message_reply", "object": {}},
        {"type": "group_join", "object": {"user_id": 1}},
        make_vk_message(peer_id=2_000_000_001),
    ],
    ids=["message_reply", "group_join", "group_chat"],
)
def test_events_without_a_citizen_message_are_ignored(event):
    assert event_to_message(event) is None


def test_our_own_outgoing_message_is_ignored():
    event = make_vk_message()
    event["object"]["message"]["out"] = 1

    assert event_to_message(event) is None


@pytest.mark.parametrize(
    "event",
    [
        None,
        [1, 2],
        "message_new",
        {"type": "message_new"},
        {"type": "message_new", "object": {"message": "text"}},
        {"type": "message_new", "object": {"message": {"peer_id": "42", "id": 1, "from_id": 42}}},
        {"type": "message_new", "object": {"message": {"peer_id": 42, "from_id": 42}}},
        {"type": "message_new", "object": {"message": {"peer_id": 2**70, "id": 1, "from_id": 1}}},
        {"type": "message_event", "object": {"payload": {"c": "x"}, "peer_id": 1}},
    ],
)
def test_malformed_events_raise(event):
    with pytest.raises(MalformedEvent):
        event_to_message(event)


def test_text_of_the_wrong_type_is_malformed():
    event = make_vk_message()
    event["object"]["message"]["text"] = ["списком"]

    with pytest.raises(MalformedEvent):
        event_to_message(event)


def test_nul_and_lone_surrogates_are_cleaned_from_text_and_payload():
    event = make_vk_message("при\x00вет \udcff", payload={"c": "fn:\udcff"})

    message = event_to_message(event)

    assert message.text == "привет \ufffd"
    assert message.payload == "fn:\ufffd"
    message.text.encode("utf-8")
