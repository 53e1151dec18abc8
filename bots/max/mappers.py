"""MAX updates (raw dicts, as ``GET /updates`` and the webhook deliver them) →
`IncomingMessage`.

Only a citizen's dialog with the bot is served: a group chat the bot was added to is
not a channel of the administration. Replies go by ``user_id`` (``chat_id`` of the
message is the citizen's MAX user id). Attachments are kept in the vocabulary the
operators' relay already knows (``photo``, ``doc``, ``audio_message``, ``video``,
``sticker``, ``geo``), with the file's URL, so an operator sees a MAX citizen's photo
as a VK one's.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bots.raw import clean_text, int64
from core.domain import Channel, IncomingMessage, MessageKind

START_TEXTS = frozenset({"начать", "start", "/start"})
ATTACHMENT_KINDS = {
    "image": MessageKind.PHOTO,
    "video": MessageKind.VIDEO,
    "audio": MessageKind.VOICE,
    "file": MessageKind.DOCUMENT,
    "sticker": MessageKind.STICKER,
    "location": MessageKind.LOCATION,
    "contact": MessageKind.CONTACT,
}
# MAX's attachment type → the relay's (`bots.telegram.operators`).
RELAYED = {
    "image": "photo",
    "video": "video",
    "audio": "audio_message",
    "file": "doc",
    "sticker": "sticker",
}
KEY_LIMIT = 128
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\S*)?(?:\s|$)")


class MalformedUpdate(ValueError):
    """The update does not have the shape MAX gives it."""


def update_to_message(update: Any) -> IncomingMessage | None:
    """Map a citizen's update; None for updates that carry nothing for the
    conversation (other chats, bots, other update types)."""
    if not isinstance(update, dict):
        raise MalformedUpdate(f"update is {type(update).__name__}, not an object")
    kind = update.get("update_type")
    if kind == "message_created":
        return _message(_object(update, "message"), update.get("user_locale"))
    if kind == "message_callback":
        return _callback(update)
    if kind == "bot_started":
        return _started(update)
    return None


def update_to_edit(update: Any) -> IncomingMessage | None:
    """A citizen's edit (``message_edited``) as the message with that ``dedup_key``;
    None for any other update."""
    if not isinstance(update, dict) or update.get("update_type") != "message_edited":
        return None
    return _message(_object(update, "message"), None)


def callback_id(update: Any) -> str | None:
    """The id to answer a button press with (``POST /answers``)."""
    if not isinstance(update, dict) or update.get("update_type") != "message_callback":
        return None
    callback = update.get("callback")
    value = callback.get("callback_id") if isinstance(callback, dict) else None
    return value if isinstance(value, str) and value else None


def update_key(update: Any) -> str | None:
    """A key for the inbox that the same update delivered twice shares: the message id,
    the callback id or the user and time; None when the update has none (the caller
    then keys it by its content)."""
    if not isinstance(update, dict):
        return None
    kind = update.get("update_type")
    key: str | None = None
    if kind in ("message_created", "message_edited"):
        message = update.get("message")
        body = message.get("body") if isinstance(message, dict) else None
        mid = body.get("mid") if isinstance(body, dict) else None
        if isinstance(mid, str) and mid:
            # An edit keeps the message's mid: its time tells the edits apart.
            key = f"{kind}:{mid}" + (
                f":{update.get('timestamp')}" if kind == "message_edited" else ""
            )
    elif kind == "message_callback":
        found = callback_id(update)
        key = f"callback:{found}" if found else None
    elif kind == "bot_started":
        user = update.get("user")
        user_id = user.get("user_id") if isinstance(user, dict) else None
        if isinstance(user_id, int) and isinstance(update.get("timestamp"), int):
            key = f"started:{user_id}:{update['timestamp']}"
    return key if key is not None and len(key) <= KEY_LIMIT else None


def _object(update: dict[str, Any], name: str) -> dict[str, Any]:
    value = update.get(name)
    if not isinstance(value, dict):
        raise MalformedUpdate(f"{update.get('update_type')} without a {name}")
    return value


def _message(message: dict[str, Any], locale: Any) -> IncomingMessage | None:
    sender = message.get("sender")
    recipient = message.get("recipient")
    body = message.get("body")
    if not isinstance(sender, dict) or not isinstance(body, dict):
        raise MalformedUpdate("message without a sender or a body")
    if sender.get("is_bot") is True:
        return None
    if isinstance(recipient, dict) and recipient.get("chat_type") not in (None, "dialog"):
        return None
    user_id = _int64(sender, "user_id")
    mid = body.get("mid")
    if user_id <= 0 or not isinstance(mid, str) or not mid:
        raise MalformedUpdate("message without a user or a mid")
    text = body.get("text") or ""
    if not isinstance(text, str):
        raise MalformedUpdate("message text is not a string")
    text = clean_text(text)
    attachments = body.get("attachments")
    items = (
        [a for a in attachments if isinstance(a, dict)] if isinstance(attachments, list) else []
    )
    kind, command = _classify(items, text)
    return IncomingMessage(
        channel=Channel.MAX,
        dedup_key=mid[:KEY_LIMIT],
        user_id=str(user_id),
        chat_id=str(user_id),
        kind=kind,
        text=text,
        command=command,
        display_name=_name(sender),
        username=_username(sender),
        language_code=_language(locale),
        sent_at=_time(message.get("timestamp")),
        attachments=tuple(_attachment(a) for a in items if a.get("type") != "inline_keyboard"),
    )


def _callback(update: dict[str, Any]) -> IncomingMessage | None:
    callback = _object(update, "callback")
    user = callback.get("user")
    found = callback_id(update)
    payload = callback.get("payload")
    if not isinstance(user, dict) or found is None:
        raise MalformedUpdate("message_callback without a user or a callback id")
    if not isinstance(payload, str) or not payload:
        return None  # not one of our buttons
    message = update.get("message")
    recipient = message.get("recipient") if isinstance(message, dict) else None
    if isinstance(recipient, dict) and recipient.get("chat_type") not in (None, "dialog"):
        return None
    user_id = _int64(user, "user_id")
    if user_id <= 0:
        raise MalformedUpdate("message_callback without a user")
    return IncomingMessage(
        channel=Channel.MAX,
        dedup_key=f"callback:{found}"[:KEY_LIMIT],
        user_id=str(user_id),
        chat_id=str(user_id),
        kind=MessageKind.BUTTON,
        payload=clean_text(payload),
        display_name=_name(user),
        username=_username(user),
        language_code=_language(update.get("user_locale")),
        sent_at=_time(callback.get("timestamp")),
    )


def _started(update: dict[str, Any]) -> IncomingMessage | None:
    """The citizen opened the bot («Начать»): the start command."""
    user = _object(update, "user")
    user_id = _int64(user, "user_id")
    timestamp = update.get("timestamp")
    if user_id <= 0 or not isinstance(timestamp, int):
        raise MalformedUpdate("bot_started without a user or a time")
    return IncomingMessage(
        channel=Channel.MAX,
        dedup_key=f"started:{user_id}:{timestamp}",
        user_id=str(user_id),
        chat_id=str(user_id),
        kind=MessageKind.COMMAND,
        command="start",
        display_name=_name(user),
        username=_username(user),
        language_code=_language(update.get("user_locale")),
        sent_at=_time(timestamp),
    )


def _classify(items: list[dict[str, Any]], text: str) -> tuple[MessageKind, str | None]:
    if text.strip().casefold() in START_TEXTS:
        return MessageKind.COMMAND, "start"
    media = [a for a in items if a.get("type") != "inline_keyboard"]
    if media:
        return ATTACHMENT_KINDS.get(str(media[0].get("type")), MessageKind.OTHER), None
    match = _COMMAND.match(text)
    if match:
        return MessageKind.COMMAND, match.group(1).lower()
    if text.strip():
        return MessageKind.TEXT, None
    return MessageKind.OTHER, None


def _attachment(item: dict[str, Any]) -> dict[str, Any]:
    """An attachment as stored with the message: the relay's kind, the file's URL and
    name, or a location's coordinates."""
    kind = str(item.get("type"))
    if kind == "location":
        return {
            "type": "geo",
            "latitude": item.get("latitude"),
            "longitude": item.get("longitude"),
        }
    payload = item.get("payload")
    found: dict[str, Any] = {"type": RELAYED.get(kind, kind)}
    if isinstance(payload, dict):
        url = payload.get("url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            found["url"] = url
        token = payload.get("token")
        if isinstance(token, str) and token:
            found["id"] = token[:KEY_LIMIT]
    if kind == "file" and isinstance(item.get("filename"), str) and item["filename"]:
        found["title"] = clean_text(item["filename"])[:255]
    return found


def _name(user: dict[str, Any]) -> str | None:
    name = user.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [user.get("first_name"), user.get("last_name")]
        name = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    return clean_text(name.strip())[:255] or None


def _username(user: dict[str, Any]) -> str | None:
    value = user.get("username")
    return clean_text(value)[:64] if isinstance(value, str) and value else None


def _language(locale: Any) -> str | None:
    if not isinstance(locale, str) or not locale:
        return None
    return locale.split("-")[0].split("_")[0].lower()[:8] or None


def _time(value: Any) -> datetime | None:
    """MAX gives times in milliseconds since the epoch."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _int64(data: dict[str, Any], name: str) -> int:
    return int64(data, name, MalformedUpdate)
