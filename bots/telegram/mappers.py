"""aiogram updates → `IncomingMessage`. Nothing below the adapter ever sees aiogram types."""

from __future__ import annotations

import re
from typing import Any

from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Message, Update, User

from core.domain import Channel, IncomingMessage, MessageKind

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\w+)?(?=\s|$)")
_MEDIA = (
    (MessageKind.VIDEO, "video"),
    (MessageKind.VIDEO_NOTE, "video_note"),
    (MessageKind.VOICE, "voice"),
    (MessageKind.AUDIO, "audio"),
    (MessageKind.STICKER, "sticker"),
    (MessageKind.DOCUMENT, "document"),
)
_FILE_DETAILS = ("file_name", "mime_type", "duration", "emoji")
# JSON may carry unpaired surrogate escapes; no encoder downstream accepts them.
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")

Attachments = tuple[dict[str, Any], ...]


def map_update(update: Update) -> IncomingMessage | None:
    if update.message is not None:
        return map_message(update.message)
    if update.callback_query is not None:
        return map_callback(update.callback_query)
    return None


def map_message(message: Message) -> IncomingMessage | None:
    if message.chat.type != ChatType.PRIVATE or message.from_user is None:
        return None
    kind, text, attachments = message_content(message)
    command = None
    if kind is MessageKind.TEXT and (match := _COMMAND.match(text)):
        kind, command = MessageKind.COMMAND, match.group(1).lower()
    return IncomingMessage(
        channel=Channel.TELEGRAM,
        dedup_key=f"{message.chat.id}:{message.message_id}",
        chat_id=str(message.chat.id),
        kind=kind,
        text=_clean(text),
        command=command,
        sent_at=message.date,
        attachments=attachments,
        **_sender(message.from_user),
    )


def map_callback(query: CallbackQuery) -> IncomingMessage | None:
    message = query.message
    if message is not None and message.chat.type != ChatType.PRIVATE:
        return None
    chat_id = message.chat.id if message is not None else query.from_user.id
    return IncomingMessage(
        channel=Channel.TELEGRAM,
        dedup_key=f"cb:{query.id}",
        chat_id=str(chat_id),
        kind=MessageKind.BUTTON,
        text=_clean(_button_label(query)),
        payload=query.data and _clean(query.data),
        **_sender(query.from_user),
    )


def _sender(user: User) -> dict[str, Any]:
    return {
        "user_id": str(user.id),
        "display_name": _clean(user.full_name),
        "username": user.username and _clean(user.username),
        "language_code": user.language_code,
    }


def _clean(text: str) -> str:
    """Text every database takes: no lone surrogates, no NUL (PostgreSQL refuses it)."""
    return _LONE_SURROGATE.sub("\ufffd", text).replace("\x00", "")


def message_content(message: Message) -> tuple[MessageKind, str, Attachments]:
    if message.text is not None:
        return MessageKind.TEXT, message.text, ()
    caption = message.caption or ""
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        return MessageKind.PHOTO, caption, (_file("photo", largest),)
    for kind, field in _MEDIA:
        media = getattr(message, field)
        if media is not None:
            return kind, caption, (_file(field, media),)
    if message.location is not None:
        place = {"latitude": message.location.latitude, "longitude": message.location.longitude}
        return MessageKind.LOCATION, "", ({"type": "location", **place},)
    if message.contact is not None:
        contact = message.contact
        card = {
            "type": "contact",
            "phone_number": contact.phone_number,
            "first_name": contact.first_name,
            "user_id": contact.user_id,
        }
        return MessageKind.CONTACT, "", (card,)
    return MessageKind.OTHER, caption, ()


def _file(kind: str, media: Any) -> dict[str, Any]:
    found = {"type": kind, "file_id": media.file_id, "file_unique_id": media.file_unique_id}
    for detail in _FILE_DETAILS:
        value = getattr(media, detail, None)
        if value is not None:
            found[detail] = value
    return found


def _button_label(query: CallbackQuery) -> str:
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None or query.data is None:
        return ""
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return ""
