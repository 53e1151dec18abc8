"""Test doubles shared by the Telegram unit and end-to-end tests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from core.domain import Button, Channel, DeliveryStatus, IncomingMessage, MessageKind, Reply

FEEDBACK_BUTTONS = ((Button("👍 Помогло", "fh:1"), Button("👎 Не помогло", "fn:1")),)

Answer = Callable[[IncomingMessage], list[tuple[str, tuple[tuple[Button, ...], ...]]]]


def echo_answer(message: IncomingMessage) -> list[tuple[str, tuple[tuple[Button, ...], ...]]]:
    if message.kind is MessageKind.COMMAND:
        return [(f"Команда: {message.command}", ())]
    if message.kind is MessageKind.BUTTON:
        return [(f"Нажата кнопка: {message.payload}", ())]
    if message.kind is MessageKind.TEXT:
        return [(f"Ответ на вопрос: {message.text[:200]}", FEEDBACK_BUTTONS)]
    return [(f"Получено: {message.kind.value}", ())]


@dataclass(frozen=True, slots=True)
class RecordedDelivery:
    outbox_id: int
    status: DeliveryStatus
    external_id: str | None
    error: str | None


class FakeConversationHandler:
    """In-memory `ConversationHandler`: remembers what it was asked, answers by a rule,
    and treats a repeated dedup key as a re-delivery (no replies)."""

    def __init__(self, answer: Answer = echo_answer) -> None:
        self.answer = answer
        self.messages: list[IncomingMessage] = []
        self.deliveries: list[RecordedDelivery] = []
        self.undelivered: list[Reply] = []
        self.gate: asyncio.Event | None = None
        self._seen: set[str] = set()
        self._outbox_ids = itertools.count(1)
        self._changed = asyncio.Event()

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        if self.gate is not None:
            await self.gate.wait()
        if message.dedup_key in self._seen:
            return []
        self._seen.add(message.dedup_key)
        self.messages.append(message)
        self._touch()
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
        self._touch()

    async def pending_replies(self, channel: Channel) -> list[Reply]:
        done = {d.outbox_id for d in self.deliveries}
        return [r for r in self.undelivered if r.channel == channel and r.outbox_id not in done]

    def statuses(self) -> list[DeliveryStatus]:
        return [delivery.status for delivery in self.deliveries]

    async def wait_for_deliveries(self, count: int, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while len(self.deliveries) < count:
                await self._changed.wait()

    def _touch(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
