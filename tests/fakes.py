"""Test doubles shared by every test layer: the dialogue, the knowledge base behind
buttons, the embedder, and (for unit tests of handlers) the conversation service."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Awaitable, Callable, Sequence

import numpy as np
from sqlalchemy import func, select

from bots.conversation import ConversationService
from core.conversations import ConversationRepository
from core.db import SessionFactory
from core.domain import Button, DeliveryStatus, Direction, IncomingMessage, MessageKind, Reply
from core.inbox import InboxRepository, InboxStatus
from core.models import Message
from handoff.service import HandoffService
from nlu import texts
from nlu.engine import BotMessage, DialogueEngine, DialogueTurn

FEEDBACK_BUTTONS = (
    (Button(texts.BUTTON_HELPED, "fh:1"), Button(texts.BUTTON_NOT_HELPED, "fn:1")),
)
# Huge garbage questions would otherwise come back as floods of split replies.
ECHO_LIMIT = 200


class EchoDialogue:
    """A `DialogueEngine` that names what arrived: ``Ответ на вопрос: <text>`` with the two
    feedback buttons for a question, ``Получено: <kind>`` for anything else.

    Everything around it is real (the conversation service, the database, the outbox),
    so adapter tests check the real delivery path with answers they can predict. While
    ``hold`` is an unset event, a turn waits inside the dialogue (stored, not answered);
    each of the next ``failures`` turns raises ``RuntimeError`` there.
    """

    def __init__(self) -> None:
        self.hold: asyncio.Event | None = None
        self.failures = 0
        self.turns: list[DialogueTurn] = []

    async def respond(self, turn: DialogueTurn) -> list[BotMessage]:
        self.turns.append(turn)
        if self.hold is not None:
            await self.hold.wait()
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("the dialogue failed (test)")
        if turn.kind is MessageKind.TEXT:
            return [BotMessage(f"Ответ на вопрос: {turn.text[:ECHO_LIMIT]}", FEEDBACK_BUTTONS)]
        return [BotMessage(f"Получено: {turn.kind.value}")]


class NoEntries:
    """An empty knowledge base for the buttons behind answers (nothing to show)."""

    def entry(self, entry_id: int) -> None:
        return None


def conversation_service(
    sessions: SessionFactory, dialogue: DialogueEngine | None = None
) -> ConversationService:
    """The real conversation service over ``sessions`` with ``dialogue`` (an echo)."""
    return ConversationService(
        sessions,
        ConversationRepository(sessions),
        dialogue or EchoDialogue(),
        NoEntries(),
        HandoffService(),
        "Тестовая администрация",
    )


async def outbound(sessions: SessionFactory, chat_id: str | None = None) -> list[Message]:
    """Replies stored in the outbox, oldest first."""
    async with sessions() as session:
        query = select(Message).where(Message.direction == Direction.OUT).order_by(Message.id)
        if chat_id is not None:
            query = query.where(Message.chat_id == chat_id)
        return list((await session.scalars(query)).all())


async def unanswered(sessions: SessionFactory) -> int:
    """Citizens' messages stored whose turn never committed."""
    async with sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.direction == Direction.IN, Message.handled_at.is_(None))
            )
        )


async def settled(inbox: InboxRepository, sessions: SessionFactory, channel: str) -> None:
    """Until no stored update of ``channel`` is pending any more, and no reply either."""

    async def nothing_pending() -> bool:
        if InboxStatus.PENDING in await inbox.counts(channel):
            return False
        return all(r.delivery_status != DeliveryStatus.PENDING for r in await outbound(sessions))

    await wait_for(nothing_pending, guard=240)


async def wait_for(condition: Callable[[], Awaitable[bool]], guard: float = 10.0) -> None:
    """Until the async ``condition`` holds (polled), or fail after ``guard`` seconds."""
    async with asyncio.timeout(guard):
        while not await condition():
            await asyncio.sleep(0.02)


class FakeConversationHandler:
    """The `ConversationHandler` protocol in memory, for unit tests of handlers only:
    answers every new message with the echo and a repeated dedup key with nothing."""

    def __init__(self) -> None:
        self.messages: list[IncomingMessage] = []
        self.given_up: list[IncomingMessage] = []
        self.edited: list[IncomingMessage] = []
        self._seen: set[str] = set()
        self._outbox_ids = itertools.count(1)

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        if message.dedup_key in self._seen:
            return []
        self._seen.add(message.dedup_key)
        self.messages.append(message)
        text = (
            f"Ответ на вопрос: {message.text}"
            if message.kind is MessageKind.TEXT
            else f"Получено: {message.kind.value}"
        )
        return [Reply(message.channel, message.chat_id, text, (), next(self._outbox_ids))]

    async def give_up(self, message: IncomingMessage, reason: str) -> list[Reply]:
        self.given_up.append(message)
        return []

    async def edit(self, message: IncomingMessage) -> bool:
        self.edited.append(message)
        return True


class RecordingOutbox:
    """Records the chats an adapter asked the outbox to send to."""

    def __init__(self) -> None:
        self.woken: list[str] = []

    def wake(self, chat_id: str) -> None:
        self.woken.append(chat_id)


class FakeEmbedder:
    """Bag of character trigrams hashed into a small vector: deterministic, instant,
    and similar texts get similar vectors."""

    name = "fake:trigrams"
    dim = 64

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, int]] = []

    def _one(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        padded = f"  {text.lower()}  "
        for i in range(len(padded) - 2):
            digest = hashlib.blake2b(padded[i : i + 3].encode(), digest_size=2).digest()
            vector[int.from_bytes(digest) % self.dim] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def encode(
        self,
        sentences: str | Sequence[str],
        *,
        prompt_name: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool = False,
        normalize_embeddings: bool = True,
        progress=None,
    ) -> np.ndarray:
        if isinstance(sentences, str):
            self.calls.append((prompt_name, 1))
            return self._one(sentences)
        self.calls.append((prompt_name, len(sentences)))
        out = (
            np.stack([self._one(s) for s in sentences])
            if sentences
            else np.zeros((0, self.dim), np.float32)
        )
        if progress is not None:
            progress(len(sentences), len(sentences))
        return out


class StandingClock:
    """A clock that stands still until a test moves it (``clock.now += seconds``)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
