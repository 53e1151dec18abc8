"""The dialogue engine: what the bot says to a citizen's message while the bot (not an
operator) handles the conversation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from core.domain import Button, Channel, MessageKind

Rows = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class DialogueTurn:
    """A citizen's message as the dialogue sees it.

    Attributes:
        conversation_id: Our conversation id (Rasa's sender id).
        message_id: The stored inbound message.
        channel: Where it came from.
        kind: Text, or the kind of media.
        text: The text (or caption); for a button of the dialogue, its payload.
        attachments: Channel file references of media.
        retry: True when this message was given to the dialogue before without its
            turn being committed (a crash, a failure, a shutdown): an engine that keeps
            state of its own must not apply the message twice.
    """

    conversation_id: int
    message_id: int
    channel: Channel
    kind: MessageKind
    text: str
    attachments: tuple[dict[str, Any], ...] = ()
    retry: bool = False


@dataclass(frozen=True, slots=True)
class BotMessage:
    """One message of the bot. A button's payload is either ours (`nlu.payloads`) or
    the dialogue engine's own (``/affirm``), which the conversation service stores and
    replaces with a short reference before it reaches a channel."""

    text: str
    buttons: Rows = field(default=())


class DialogueEngine(Protocol):
    """Produces the bot's messages for one turn."""

    async def respond(self, turn: DialogueTurn) -> list[BotMessage]:
        """The bot's messages for ``turn``; never empty."""
        ...
