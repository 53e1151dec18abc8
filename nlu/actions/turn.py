"""The citizen's latest message as the actions see it, and how actions answer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from core.domain import Button
from nlu.engine import BotMessage, Rows

# The appeal form's slots, in the order the form asks for them.
FORM_SLOTS = (
    "appeal_consent",
    "appeal_category",
    "appeal_address",
    "appeal_description",
    "appeal_photo",
    "appeal_phone",
)
APPEAL_SLOTS = (*FORM_SLOTS, "appeal_consent_at")
MEDIA_MESSAGE = "/send_media"
FIELD_SLOTS = {
    "category": "appeal_category",
    "address": "appeal_address",
    "description": "appeal_description",
    "photo": "appeal_photo",
    "phone": "appeal_phone",
}


@dataclass(frozen=True, slots=True)
class Said:
    """The latest user message of a tracker.

    Attributes:
        text: The text, or the payload of a button (``/affirm``).
        intent: The intent NLU chose (``nlu_fallback`` when unsure).
        confidence: Its confidence.
        entities: Entity name -> value (the first of each name).
        kind: The media kind from the metadata (``photo``…), None for text.
        attachments: The channel's file references of the media.
        message_id: Our stored message id, when the metadata has it.
        channel: The channel, when the metadata has it.
    """

    text: str
    intent: str | None
    confidence: float
    entities: dict[str, Any] = field(default_factory=dict)
    kind: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    message_id: int | None = None
    channel: str | None = None

    @classmethod
    def of(cls, tracker: Tracker) -> Said:
        latest = tracker.latest_message or {}
        intent = latest.get("intent") or {}
        metadata = latest.get("metadata") or {}
        entities: dict[str, Any] = {}
        for entity in latest.get("entities") or []:
            entities.setdefault(entity.get("entity"), entity.get("value"))
        return cls(
            text=(latest.get("text") or "").strip(),
            intent=intent.get("name"),
            confidence=float(intent.get("confidence") or 0.0),
            entities=entities,
            kind=_media_kind(latest.get("text"), metadata.get("kind")),
            attachments=list(metadata.get("attachments") or []),
            message_id=_number(metadata.get("message_id")),
            channel=metadata.get("channel"),
        )

    @property
    def is_payload(self) -> bool:
        """A button's payload (``/intent{...}``) rather than typed text."""
        return self.text.startswith("/")

    @property
    def words(self) -> int:
        return len(self.text.split())


def conversation_id(tracker: Tracker) -> int | None:
    """Our conversation id: the sender id of every Rasa conversation we start."""
    return _number(tracker.sender_id)


def _media_kind(text: Any, kind: Any) -> str | None:
    """The kind of media the conversation service sent as ``/send_media``; None for
    typed text, even text classified as send_media («вот фото»)."""
    if not isinstance(text, str) or not text.startswith(MEDIA_MESSAGE) or not kind:
        return None
    return str(kind)


def _number(value: Any) -> int | None:
    text = str(value) if isinstance(value, int | str) else ""
    return int(text) if text.isdigit() else None


def say(dispatcher: CollectingDispatcher, text: str, rows: Rows = ()) -> None:
    """Send a message with rows of buttons in the shape the conversation service
    reads (``{"djinn": {"text", "buttons"}}``)."""
    dispatcher.utter_message(
        json_message={
            "djinn": {
                "text": text,
                "buttons": [[{"text": b.text, "payload": b.payload} for b in row] for row in rows],
            }
        }
    )


def say_all(dispatcher: CollectingDispatcher, messages: Iterable[BotMessage]) -> None:
    for message in messages:
        say(dispatcher, message.text, message.buttons)


def row(*buttons: Button) -> tuple[Button, ...]:
    return tuple(buttons)


def appeal_started(tracker: Tracker) -> bool:
    """Whether the citizen is filling in or reviewing an appeal."""
    return tracker.active_loop_name == "appeal_form" or any(
        tracker.get_slot(slot) is not None for slot in FORM_SLOTS
    )


def appeal_complete(tracker: Tracker) -> bool:
    """Whether an appeal waits for the citizen's review: consent given, all filled."""
    return tracker.get_slot("appeal_consent") is True and all(
        tracker.get_slot(slot) is not None for slot in FORM_SLOTS
    )


def forget_appeal() -> list[EventType]:
    """Events that drop whatever the form collected; a running form is stopped by the
    rules (``action_deactivate_loop``)."""
    return [SlotSet(slot, None) for slot in (*APPEAL_SLOTS, "requested_slot")]
