"""Factories for test data. Each channel keeps its own section."""

from __future__ import annotations

import itertools
import subprocess
import sys

from core.domain import Channel, IncomingMessage, MessageKind
from core.leases import Worker

# --- domain ---

_message_ids = itertools.count(1)


def make_message(
    text: str = "Как оплатить коммунальные услуги?",
    *,
    user_id: str = "1001",
    channel: Channel = Channel.TELEGRAM,
    kind: MessageKind = MessageKind.TEXT,
    payload: str | None = None,
    command: str | None = None,
    dedup_key: str | None = None,
) -> IncomingMessage:
    """A citizen's message as an adapter hands it to the conversation service."""
    return IncomingMessage(
        channel=channel,
        dedup_key=dedup_key or f"{user_id}:{next(_message_ids)}",
        user_id=user_id,
        chat_id=user_id,
        kind=kind,
        text=text,
        payload=payload,
        command=command,
        display_name="Анна",
    )


# --- telegram ---

TG_BOT_ID = 42
TG_BOT_TOKEN = f"{TG_BOT_ID}:TEST-token-for-unit-tests"
TG_DATE = 1_767_225_600


def make_tg_user(user_id: int = 1001, first_name: str = "Иван", **extra: object) -> dict:
    return {"id": user_id, "is_bot": False, "first_name": first_name, **extra}


def make_tg_message(
    text: str | None = "Как получить справку о составе семьи?",
    *,
    user_id: int = 1001,
    chat_id: int | None = None,
    chat_type: str = "private",
    message_id: int = 1,
    **content: object,
) -> dict:
    """A message as the Bot API sends it; ``content`` adds fields such as ``photo``."""
    if chat_type == "private":
        chat: dict = {"id": chat_id or user_id, "type": chat_type, "first_name": "Иван"}
    else:
        chat = {"id": chat_id or -1001234567890, "type": chat_type, "title": "Рабочая группа"}
    message: dict = {
        "message_id": message_id,
        "date": TG_DATE,
        "chat": chat,
        "from": make_tg_user(user_id, language_code="ru"),
    }
    if text is not None:
        message["text"] = text
    return {**message, **content}


def make_tg_update(
    text: str | None = "Как получить справку о составе семьи?",
    *,
    update_id: int = 1,
    **message: object,
) -> dict:
    """An update carrying a message; keywords go to `make_tg_message`."""
    return {"update_id": update_id, "message": make_tg_message(text, **message)}


def make_tg_media(kind: str) -> dict:
    """Message fields of a non-text message: photo, voice, video, video_note, audio,
    sticker, document, location or contact."""
    file = {"file_id": f"{kind}-file-id", "file_unique_id": f"{kind}-unique"}
    fields: dict[str, object] = {
        "photo": [
            {**file, "file_id": "photo-small", "width": 90, "height": 90},
            {**file, "width": 1280, "height": 960},
        ],
        "voice": {**file, "duration": 4, "mime_type": "audio/ogg"},
        "video": {**file, "width": 640, "height": 360, "duration": 5},
        "video_note": {**file, "length": 240, "duration": 3},
        "audio": {**file, "duration": 100},
        "sticker": {
            **file,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "🙏",
        },
        "document": {**file, "file_name": "заявление.pdf", "mime_type": "application/pdf"},
        "location": {"latitude": 55.75, "longitude": 37.62},
        "contact": {"phone_number": "+79001234567", "first_name": "Иван", "user_id": 1001},
    }
    return {kind: fields[kind]}


def make_tg_callback(
    data: str = "fh:1",
    *,
    user_id: int = 1001,
    query_id: str = "4242",
    update_id: int = 1,
    label: str = "👍 Помогло",
    chat_type: str = "private",
) -> dict:
    """An update pressing the button ``label``/``data`` under a message the bot sent."""
    message = make_tg_message("Ответ", user_id=user_id, chat_type=chat_type, message_id=7)
    message["from"] = {"id": TG_BOT_ID, "is_bot": True, "first_name": "Джинн"}
    message["reply_markup"] = {"inline_keyboard": [[{"text": label, "callback_data": data}]]}
    query = {
        "id": query_id,
        "from": make_tg_user(user_id),
        "message": message,
        "chat_instance": "ci-1",
        "data": data,
    }
    return {"update_id": update_id, "callback_query": query}


# --- vk ---

VK_GROUP_ID = 1000
VK_CLIENT_INFO = {
    "button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback"],
    "keyboard": True,
    "inline_keyboard": True,
    "carousel": True,
    "lang_id": 0,
}


def make_vk_message(
    text: str = "Как записаться на приём?",
    *,
    peer_id: int = 5001,
    message_id: int = 1,
    payload: str | dict | None = None,
    attachments: list[dict] | None = None,
    geo: dict | None = None,
    event_id: str = "a1b2c3d4e5",
    lang_id: int = 0,
) -> dict:
    """A ``message_new`` event as the Bots Long Poll API (5.199) delivers it."""
    import json  # here, not in the header the channels' sections share

    message: dict = {
        "date": 1_767_225_600,
        "from_id": peer_id,
        "id": message_id,
        "out": 0,
        "attachments": attachments or [],
        "conversation_message_id": message_id,
        "fwd_messages": [],
        "important": False,
        "is_hidden": False,
        "peer_id": peer_id,
        "random_id": 0,
        "text": text,
    }
    if payload is not None:
        message["payload"] = payload if isinstance(payload, str) else json.dumps(payload)
    if geo is not None:
        message["geo"] = geo
    return {
        "group_id": VK_GROUP_ID,
        "type": "message_new",
        "event_id": event_id,
        "v": "5.199",
        "object": {"message": message, "client_info": {**VK_CLIENT_INFO, "lang_id": lang_id}},
    }


def make_vk_button_press(label: str, payload: str, *, peer_id: int = 5001) -> dict:
    """A press of one of our text buttons: the label as text, ``{"c": ...}`` as payload."""
    return make_vk_message(label, peer_id=peer_id, payload={"c": payload})


def make_vk_attachment(kind: str, *, owner_id: int = 5001, item_id: int = 77) -> dict:
    """One attachment: photo, audio_message, sticker, doc, video or audio."""
    if kind == "sticker":
        return {"type": kind, kind: {"product_id": 1, "sticker_id": item_id, "images": []}}
    body = {"id": item_id, "owner_id": owner_id, "access_key": "k3y"}
    return {"type": kind, kind: body}


def make_vk_geo(latitude: float = 55.75, longitude: float = 37.62) -> dict:
    return {"type": "point", "coordinates": {"latitude": latitude, "longitude": longitude}}


def make_vk_callback_press(payload: object, *, peer_id: int = 5001) -> dict:
    """A callback button (``message_event``) being pressed."""
    return {
        "group_id": VK_GROUP_ID,
        "type": "message_event",
        "event_id": "f00dfeed",
        "v": "5.199",
        "object": {
            "user_id": peer_id,
            "peer_id": peer_id,
            "event_id": "3f1d2c",
            "payload": payload,
            "conversation_message_id": 9,
        },
    }


# --- leases ---


def dead_worker() -> Worker:
    """A lease holder on this host whose process has exited."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Worker(Worker.current().host, int(child.stdout), "1.00")
