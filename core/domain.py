"""Channel-agnostic domain types shared by the adapters and the services below them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    TELEGRAM = "telegram"
    VK = "vk"
    MAX = "max"
    WEB = "web"  # the chat widget on the administration's website


class ConversationStatus(StrEnum):
    BOT = "bot"
    WAITING = "waiting"
    WITH_OPERATOR = "with_operator"
    CLOSED = "closed"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class MessageKind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    BUTTON = "button"
    PHOTO = "photo"
    VIDEO = "video"
    VIDEO_NOTE = "video_note"
    VOICE = "voice"
    AUDIO = "audio"
    STICKER = "sticker"
    DOCUMENT = "document"
    LOCATION = "location"
    CONTACT = "contact"
    OTHER = "other"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"


class Decision(StrEnum):
    """What the bot does with a question after searching the knowledge base."""

    ANSWER = "answer"
    CLARIFY = "clarify"
    HANDOFF = "handoff"


class LearnedStatus(StrEnum):
    """A phrasing learned from use: searched (active) or turned down by an editor."""

    ACTIVE = "active"
    REJECTED = "rejected"


class AdminRole(StrEnum):
    """What a user of the web admin (or an API token) may do. An admin manages users,
    tokens and everything else; an editor the FAQ and the knowledge gaps; a supervisor
    reads the dashboard and transcripts; an operator reads the FAQ."""

    ADMIN = "admin"
    EDITOR = "editor"
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"


class Feedback(StrEnum):
    HELPED = "helped"
    NOT_HELPED = "not_helped"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One thing a citizen sent, already translated from the transport's types.

    Attributes:
        channel: The channel it arrived on.
        dedup_key: Unique per channel for this message; the same update delivered
            twice carries the same key.
        user_id: The citizen's id on the channel.
        chat_id: Where replies go on the channel.
        kind: Text, a command, a button press or a non-text message type.
        text: The text, caption or button label.
        payload: A button's payload (``Button.payload``) when ``kind`` is BUTTON.
        command: The command name without the slash (``start``) when ``kind`` is COMMAND.
        display_name: The name the channel shows for the citizen.
        username: The channel's username, when there is one.
        language_code: The client's language, when the channel reports it.
        sent_at: When the channel says it was sent.
        attachments: Channel file references kept for the operator (later issues).
    """

    channel: Channel
    dedup_key: str
    user_id: str
    chat_id: str
    kind: MessageKind
    text: str = ""
    payload: str | None = None
    command: str | None = None
    display_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    sent_at: datetime | None = None
    attachments: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Button:
    """A reply button. ``payload`` is short (Telegram allows 64 bytes of callback data)."""

    text: str
    payload: str


@dataclass(frozen=True, slots=True)
class Reply:
    """A message for an adapter to deliver.

    Attributes:
        channel: The channel to send on.
        chat_id: The chat on that channel.
        text: Plain text; adapters send it without markup, so any character is safe.
        buttons: Rows of buttons shown under the text.
        outbox_id: The stored outgoing message this reply is, for delivery reports.
        attachments: Media an operator sent (``telegram_message``: the message in the
            operator group, with its kind and file id); the text is then its caption.
    """

    channel: Channel
    chat_id: str
    text: str
    buttons: tuple[tuple[Button, ...], ...] = field(default=())
    outbox_id: int | None = None
    attachments: tuple[dict[str, Any], ...] = field(default=())
