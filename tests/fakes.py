"""Test doubles shared by every test layer: the conversation handler and the embedder."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.domain import Button, Channel, DeliveryStatus, IncomingMessage, MessageKind, Reply
from nlu import texts

FEEDBACK_BUTTONS = (
    (Button(texts.BUTTON_HELPED, "fh:1"), Button(texts.BUTTON_NOT_HELPED, "fn:1")),
)
# Huge garbage questions would otherwise come back as floods of split replies.
ECHO_LIMIT = 200

Rows = tuple[tuple[Button, ...], ...]
Answer = Callable[[IncomingMessage], list[tuple[str, Rows]]]


def echo_answer(message: IncomingMessage) -> list[tuple[str, Rows]]:
    """One reply naming what arrived; a question also gets the two feedback buttons."""
    if message.kind is MessageKind.TEXT:
        return [(f"Ответ на вопрос: {message.text[:ECHO_LIMIT]}", FEEDBACK_BUTTONS)]
    if message.kind is MessageKind.COMMAND:
        return [(f"Команда: {message.command}", ())]
    if message.kind is MessageKind.BUTTON:
        return [(f"Нажата кнопка: {message.payload}", ())]
    return [(f"Получено: {message.kind.value}", ())]


@dataclass(frozen=True, slots=True)
class RecordedDelivery:
    outbox_id: int
    status: DeliveryStatus
    external_id: str | None = None
    error: str | None = None


class FakeConversationHandler:
    """The `ConversationHandler` protocol in memory.

    Answers every new message by the ``answer`` rule and a repeated dedup key with nothing
    (a re-delivery, as the real service does). Remembers every call, every new message
    and every delivery. ``pending`` replies are offered at start-up until a delivery is
    recorded for them. While ``hold`` is an unset event, ``handle`` waits: a message is
    frozen between being stored and being handled.
    """

    def __init__(self, answer: Answer = echo_answer, *, hold: asyncio.Event | None = None):
        self.answer = answer
        self.hold = hold
        self.calls: list[IncomingMessage] = []
        self.messages: list[IncomingMessage] = []
        self.deliveries: list[RecordedDelivery] = []
        self.pending: list[Reply] = []
        self._seen: set[str] = set()
        self._outbox_ids = itertools.count(1)
        self._changed = asyncio.Event()

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        if self.hold is not None:
            await self.hold.wait()
        self.calls.append(message)
        if message.dedup_key in self._seen:
            return []
        self._seen.add(message.dedup_key)
        self.messages.append(message)
        self._notify()
        return [
            Reply(message.channel, message.chat_id, text, buttons, next(self._outbox_ids))
            for text, buttons in self.answer(message)
        ]

    async def record_delivery(
        self,
        outbox_id: int,
        status: DeliveryStatus,
        *,
        external_id: str | None = None,
        error: str | None = None,
    ) -> None:
        self.deliveries.append(RecordedDelivery(outbox_id, status, external_id, error))
        self._notify()

    async def pending_replies(self, channel: Channel) -> list[Reply]:
        done = {d.outbox_id for d in self.deliveries}
        return [r for r in self.pending if r.channel == channel and r.outbox_id not in done]

    def statuses(self) -> list[DeliveryStatus]:
        return [delivery.status for delivery in self.deliveries]

    def delivery(self, outbox_id: int) -> RecordedDelivery | None:
        """The latest delivery recorded for ``outbox_id``."""
        found = [d for d in self.deliveries if d.outbox_id == outbox_id]
        return found[-1] if found else None

    def forget_deliveries(self, outbox_id: int) -> None:
        """Lose the records for ``outbox_id``, as a crash before they were stored would."""
        self.deliveries = [d for d in self.deliveries if d.outbox_id != outbox_id]

    async def wait_until(self, condition: Callable[[], object], *, guard: float = 5.0) -> None:
        """Wait until ``condition()`` holds, re-checking after each message and delivery."""
        async with asyncio.timeout(guard):
            while not condition():
                await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


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
