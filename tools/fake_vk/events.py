"""VK events shaped as the Bots Long Poll and Callback APIs deliver them (API 5.199)."""

from __future__ import annotations

import json
import secrets
from typing import Any

API_VERSION = "5.199"

CLIENT_INFO: dict[str, Any] = {
    "button_actions": [
        "text",
        "vkpay",
        "open_app",
        "location",
        "open_link",
        "callback",
        "intent_subscribe",
        "intent_unsubscribe",
    ],
    "keyboard": True,
    "inline_keyboard": True,
    "carousel": True,
    "lang_id": 0,
}

ATTACHMENT_KINDS = ("photo", "audio_message", "sticker", "doc", "video", "audio")


def new_event_id() -> str:
    return secrets.token_hex(20)


def envelope(
    group_id: int, event_type: str, obj: dict[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    return {
        "group_id": group_id,
        "type": event_type,
        "event_id": event_id or new_event_id(),
        "v": API_VERSION,
        "object": obj,
    }


def message_object(
    *,
    message_id: int,
    conversation_message_id: int,
    peer_id: int,
    from_id: int,
    text: str,
    date: int,
    payload: str | dict[str, Any] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    geo: dict[str, Any] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "date": date,
        "from_id": from_id,
        "id": message_id,
        "out": 0,
        "attachments": attachments or [],
        "conversation_message_id": conversation_message_id,
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
    return message


def attachment(kind: str, owner_id: int, item_id: int) -> dict[str, Any]:
    """One attachment of ``kind`` (see ``ATTACHMENT_KINDS``) as VK nests it in a message."""
    access_key = secrets.token_hex(8)
    bodies: dict[str, dict[str, Any]] = {
        "photo": {
            "id": item_id,
            "owner_id": owner_id,
            "access_key": access_key,
            "sizes": [{"type": "x", "width": 604, "height": 453, "url": _url("photo", item_id)}],
        },
        "audio_message": {
            "id": item_id,
            "owner_id": owner_id,
            "access_key": access_key,
            "duration": 4,
            "link_ogg": _url("voice.ogg", item_id),
            "link_mp3": _url("voice.mp3", item_id),
        },
        "sticker": {"product_id": 1, "sticker_id": item_id, "images": []},
        "doc": {
            "id": item_id,
            "owner_id": owner_id,
            "access_key": access_key,
            "title": "заявление.pdf",
            "size": 12345,
            "ext": "pdf",
            "type": 1,
            "url": _url("doc", item_id),
        },
        "video": {"id": item_id, "owner_id": owner_id, "access_key": access_key, "title": "видео"},
        "audio": {"id": item_id, "owner_id": owner_id, "artist": "Исполнитель", "title": "Песня"},
    }
    if kind not in bodies:
        raise ValueError(f"unknown attachment kind {kind!r}")
    return {"type": kind, kind: bodies[kind]}


def geo(latitude: float, longitude: float) -> dict[str, Any]:
    return {
        "type": "point",
        "coordinates": {"latitude": latitude, "longitude": longitude},
        "place": {"country": "Россия", "city": "Москва", "title": "Москва, Россия"},
    }


def message_event_object(
    *, user_id: int, peer_id: int, event_id: str, payload: Any, conversation_message_id: int
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "peer_id": peer_id,
        "event_id": event_id,
        "payload": payload,
        "conversation_message_id": conversation_message_id,
    }


def _url(kind: str, item_id: int) -> str:
    return f"https://fake-vk.invalid/{kind}/{item_id}"
