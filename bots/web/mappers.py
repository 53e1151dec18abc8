"""The widget's messages at the edges: a stored inbox payload → `IncomingMessage`, and a
stored message row → the frame the browser shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bots.operator_files import OperatorMedia, media_note, operator_media, with_note
from bots.web import frames
from bots.web.photos import FILES_PATH, PhotoStore
from core.domain import Channel, Direction, IncomingMessage, MessageKind, Reply
from core.models import Message, as_utc

DISPLAY_NAME = "Посетитель сайта"
KINDS = {"text": MessageKind.TEXT, "button": MessageKind.BUTTON, "photo": MessageKind.PHOTO}
NOT_SHOWN = "(Оператор отправил {what}; в чате на сайте это не показать.)"


class MalformedUpdate(ValueError):
    """A stored payload that is not a visitor's message."""


def update_key(visitor: str, client_id: str) -> str:
    """The inbox key and the message's dedup key: the visitor's own id of the message."""
    return f"{visitor}:{client_id}"


def payload_of(
    visitor: str, frame: frames.Outgoing, photo_url: str | None, at: datetime
) -> dict[str, Any]:
    """What the inbox keeps of a visitor's message (the raw update of this channel)."""
    payload: dict[str, Any] = {
        "visitor": visitor,
        "client_id": frame.client_id,
        "kind": frame.kind,
        "text": frame.text,
        "at": at.isoformat(),
    }
    if frame.payload is not None:
        payload["payload"] = frame.payload
    if frame.file is not None:
        payload["photo"] = {"file": frame.file, "url": photo_url}
    return payload


def update_to_message(payload: Any) -> IncomingMessage:
    """A stored payload as the visitor's message.

    Raises:
        MalformedUpdate: It is not one `payload_of` makes.
    """
    if not isinstance(payload, dict):
        raise MalformedUpdate("not an object")
    visitor, client_id = payload.get("visitor"), payload.get("client_id")
    kind = KINDS.get(str(payload.get("kind")))
    text = payload.get("text")
    if not isinstance(visitor, str) or not isinstance(client_id, str) or kind is None:
        raise MalformedUpdate("no visitor, id or kind")
    if not isinstance(text, str):
        raise MalformedUpdate("no text")
    button = payload.get("payload")
    if kind is MessageKind.BUTTON and not isinstance(button, str):
        raise MalformedUpdate("a button without its payload")
    attachments: tuple[dict[str, Any], ...] = ()
    photo = payload.get("photo")
    if kind is MessageKind.PHOTO:
        if not isinstance(photo, dict) or not isinstance(photo.get("file"), str):
            raise MalformedUpdate("a photo without its file")
        attachments = ({"type": "photo", "file": photo["file"], "url": photo.get("url")},)
    try:
        sent_at = datetime.fromisoformat(str(payload.get("at")))
    except ValueError:
        sent_at = datetime.now(UTC)
    return IncomingMessage(
        channel=Channel.WEB,
        dedup_key=update_key(visitor, client_id),
        user_id=visitor,
        chat_id=visitor,
        kind=kind,
        text=text,
        payload=button if kind is MessageKind.BUTTON else None,
        display_name=DISPLAY_NAME,
        language_code="ru",
        sent_at=sent_at,
        attachments=attachments,
    )


def operator_note(media: OperatorMedia | None, photo_shown: bool) -> str:
    """What the visitor reads in place of an operator's media the widget does not show."""
    if media is None:
        return ""
    shown = media.kind is MessageKind.PHOTO and photo_shown
    return media_note(media, passed=shown, not_shown=NOT_SHOWN)


def operator_photo(media: OperatorMedia | None, photos: PhotoStore) -> str | None:
    """The address of an operator's photo the widget keeps, None when it keeps none."""
    if media is None or media.kind is not MessageKind.PHOTO or not media.file_id:
        return None
    name = photos.operator_photo(media.file_id)
    return FILES_PATH + name if name is not None else None


def row_frame(row: Message, photos: PhotoStore) -> dict[str, Any]:
    """A stored message of the visitor's conversation as the browser shows it."""
    at = as_utc(row.created_at)
    if row.direction == Direction.IN:
        client_id = (row.dedup_key or "").partition(":")[2] or None
        photo = None
        for item in row.attachments or ():
            if isinstance(item, dict) and isinstance(item.get("file"), str):
                photo = FILES_PATH + item["file"]
        return frames.message(
            id=row.id, sender="visitor", text=row.text or "", at=at, client_id=client_id,
            photo=photo,
        )  # fmt: skip
    reply = Reply(Channel.WEB, row.chat_id, row.text or "",
                  attachments=tuple(row.attachments or ()))  # fmt: skip
    media = operator_media(reply)
    photo = operator_photo(media, photos)
    return frames.message(
        id=row.id,
        sender="operator" if (row.author or "").startswith("operator") else "bot",
        text=with_note(row.text or "", operator_note(media, photo is not None)),
        at=at,
        buttons=stored_buttons(row.buttons),
        photo=photo,
    )


def stored_buttons(rows: Any) -> list[list[dict[str, str]]]:
    buttons = []
    for row in rows or ():
        line = [
            {"text": str(b.get("text", "")), "payload": str(b.get("payload", ""))}
            for b in row
            if isinstance(b, dict)
        ]
        if line:
            buttons.append(line)
    return buttons
