"""VK events (raw dicts, as the Long Poll and Callback APIs deliver them) → `IncomingMessage`."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from bots.raw import clean_text, int64
from core.domain import Channel, IncomingMessage, MessageKind

CHAT_PEER_OFFSET = 2_000_000_000
START_TEXTS = frozenset({"начать", "start"})
ATTACHMENT_KINDS = {
    "photo": MessageKind.PHOTO,
    "audio_message": MessageKind.VOICE,
    "sticker": MessageKind.STICKER,
    "doc": MessageKind.DOCUMENT,
    "video": MessageKind.VIDEO,
    "audio": MessageKind.AUDIO,
}
# VK's photo size types, smallest first (https://dev.vk.com/ru/reference/objects/photo-sizes).
_SIZE_TYPES = ("s", "m", "o", "p", "q", "r", "x", "y", "z", "w")
LANGUAGES = {0: "ru", 1: "uk", 2: "be", 3: "en", 4: "es", 5: "fi", 6: "de", 7: "it"}

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\S*)?(?:\s|$)")


class MalformedEvent(ValueError):
    """The event does not have the shape VK gives it."""


def event_to_message(event: Any, display_name: str | None = None) -> IncomingMessage | None:
    """Map a citizen's event; None for events that carry nothing for the conversation
    (our own outgoing messages, group chats, other event types)."""
    if not isinstance(event, dict):
        raise MalformedEvent(f"event is {type(event).__name__}, not an object")
    obj = event.get("object")
    if event.get("type") == "message_new":
        if not isinstance(obj, dict) or not isinstance(obj.get("message"), dict):
            raise MalformedEvent("message_new without a message")
        return _message_new(obj["message"], obj.get("client_info"), display_name)
    if event.get("type") == "message_event":
        if not isinstance(obj, dict):
            raise MalformedEvent("message_event without an object")
        return _message_event(obj, display_name)
    return None


def event_to_edit(event: Any) -> IncomingMessage | None:
    """A citizen's edit (``message_edit``, whose object is the message itself, with the
    id of the message edited and its new text) as the message with that ``dedup_key``;
    None for any other event and for edits of our own messages."""
    if not isinstance(event, dict) or event.get("type") != "message_edit":
        return None
    obj = event.get("object")
    if not isinstance(obj, dict):
        raise MalformedEvent("message_edit without a message")
    return _message_new(obj, None, None)


def button_payload(raw: Any) -> str | None:
    """Our button payload (``{"c": "<Button.payload>"}``) from a message's ``payload``."""
    value = _json_object(raw)
    if value is None:
        return None
    payload = value.get("c")
    return clean_text(payload) if isinstance(payload, str) else None


def _message_new(
    message: dict[str, Any], client_info: Any, display_name: str | None
) -> IncomingMessage | None:
    peer_id = _int64(message, "peer_id")
    from_id = _int64(message, "from_id")
    if message.get("out") == 1 or peer_id >= CHAT_PEER_OFFSET or from_id <= 0:
        return None
    message_id = _int64(message, "id") or _int64(message, "conversation_message_id")
    if peer_id <= 0 or message_id <= 0:
        raise MalformedEvent("message without a peer or an id")
    text = message.get("text", "")
    if not isinstance(text, str):
        raise MalformedEvent("message text is not a string")
    text = clean_text(text)
    kind, payload, command = _classify(message, text)
    return IncomingMessage(
        channel=Channel.VK,
        dedup_key=f"{peer_id}:{message_id}",
        user_id=str(from_id),
        chat_id=str(peer_id),
        kind=kind,
        text=text,
        payload=payload,
        command=command,
        display_name=display_name,
        language_code=_language(client_info),
        sent_at=_date(message.get("date")),
        attachments=_attachments(message),
    )


def _classify(message: dict[str, Any], text: str) -> tuple[MessageKind, str | None, str | None]:
    payload = button_payload(message.get("payload"))
    if payload is not None:
        return MessageKind.BUTTON, payload, None
    value = _json_object(message.get("payload"))
    if value is not None and value.get("command") == "start":
        return MessageKind.COMMAND, None, "start"
    if text.strip().casefold() in START_TEXTS:
        return MessageKind.COMMAND, None, "start"
    attachments = message.get("attachments")
    if isinstance(attachments, list) and attachments:
        first = attachments[0]
        kind = first.get("type") if isinstance(first, dict) else None
        return ATTACHMENT_KINDS.get(kind, MessageKind.OTHER), None, None  # type: ignore[arg-type]
    if isinstance(message.get("geo"), dict):
        return MessageKind.LOCATION, None, None
    match = _COMMAND.match(text)
    if match:
        return MessageKind.COMMAND, None, match.group(1).lower()
    if text.strip():
        return MessageKind.TEXT, None, None
    return MessageKind.OTHER, None, None


def _message_event(obj: dict[str, Any], display_name: str | None) -> IncomingMessage | None:
    payload = button_payload(obj.get("payload"))
    peer_id, user_id = _int64(obj, "peer_id"), _int64(obj, "user_id")
    event_id = obj.get("event_id")
    if payload is None or peer_id >= CHAT_PEER_OFFSET:
        return None
    if peer_id <= 0 or user_id <= 0 or not isinstance(event_id, str) or not event_id:
        raise MalformedEvent("message_event without a peer, a user or an event id")
    return IncomingMessage(
        channel=Channel.VK,
        dedup_key=f"{peer_id}:event:{event_id}",
        user_id=str(user_id),
        chat_id=str(peer_id),
        kind=MessageKind.BUTTON,
        payload=payload,
        display_name=display_name,
    )


def _attachments(message: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    found: list[dict[str, Any]] = []
    raw = message.get("attachments")
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("type"), str):
            found.append(_attachment(item["type"], item.get(item["type"])))
    geo = message.get("geo")
    if isinstance(geo, dict) and isinstance(geo.get("coordinates"), dict):
        coordinates = geo["coordinates"]
        found.append(
            {
                "type": "geo",
                "latitude": coordinates.get("latitude"),
                "longitude": coordinates.get("longitude"),
            }
        )
    return tuple(found)


def _attachment(kind: str, body: Any) -> dict[str, Any]:
    """An attachment as stored with the message: its kind, VK's reference and, for the
    operators who see it in Telegram, where its file is (``url``) and what it is called."""
    if not isinstance(body, dict):
        return {"type": kind}
    if kind == "sticker":
        found = {"type": kind, "id": str(body.get("sticker_id", ""))}
        if (url := _largest_image_url(body.get("images"))) is not None:
            found["url"] = url
        return found
    owner_id, item_id = body.get("owner_id"), body.get("id")
    if owner_id is None or item_id is None:
        return {"type": kind}
    ref = f"{kind}{owner_id}_{item_id}"
    if isinstance(body.get("access_key"), str) and body["access_key"]:
        ref += f"_{body['access_key']}"
    found = {"type": kind, "id": ref}
    if kind == "photo":
        url = _largest_photo_url(body.get("sizes"))
    elif kind == "doc":
        url = _link(body.get("url"))
        if isinstance(body.get("title"), str) and body["title"]:
            found["title"] = clean_text(body["title"])[:255]
    elif kind == "audio_message":
        url = _link(body.get("link_ogg")) or _link(body.get("link_mp3"))
    elif kind == "video":
        # A video has no file link; its page opens for anyone logged in to VK.
        url = f"https://vk.com/video{owner_id}_{item_id}"
    else:
        url = None
    if url is not None:
        found["url"] = url
    return found


def _link(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def _largest_image_url(images: Any) -> str | None:
    """The URL of a sticker's largest image."""
    best, url = -1, None
    for image in images if isinstance(images, list) else []:
        if isinstance(image, dict) and (link := _link(image.get("url"))) is not None:
            width = image.get("width")
            side = width if isinstance(width, int) else 0
            if side > best:
                best, url = side, link
    return url


def _largest_photo_url(sizes: Any) -> str | None:
    """The URL of a photo's largest size; sizes of old photos may have no width and
    height (0), then the size type tells."""
    best: tuple[int, int] | None = None
    url = None
    for size in sizes if isinstance(sizes, list) else []:
        if not isinstance(size, dict):
            continue
        link = size.get("url")
        if not isinstance(link, str) or not link.startswith(("https://", "http://")):
            continue
        width, height = size.get("width"), size.get("height")
        area = width * height if isinstance(width, int) and isinstance(height, int) else 0
        rank = (area, _SIZE_TYPES.index(size["type"]) if size.get("type") in _SIZE_TYPES else -1)
        if best is None or rank > best:
            best, url = rank, link
    return url


def _json_object(raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _date(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _language(client_info: Any) -> str | None:
    if not isinstance(client_info, dict):
        return None
    lang_id = client_info.get("lang_id")
    return LANGUAGES.get(lang_id) if isinstance(lang_id, int) else None


def _int64(data: dict[str, Any], name: str) -> int:
    return int64(data, name, MalformedEvent)
