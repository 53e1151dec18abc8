"""Delivering replies: split, send as plain text, wait out rate limits, retry transient
failures, and report every outcome to the conversation service."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup, Message

from bots.conversation import ConversationHandler
from bots.telegram.keyboards import CallbackDataError, build_keyboard
from bots.telegram.locks import KeyedLocks
from bots.text import split_text
from core.domain import Channel, DeliveryStatus, Reply

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5  # per message part, for network errors and 5xx
    base_delay: float = 0.5
    max_delay: float = 30.0
    rate_limit_waits: int = 10  # 429 answers waited out per message part

    def backoff(self, failures: int) -> float:
        return min(self.base_delay * 2 ** (failures - 1), self.max_delay)


@dataclass(frozen=True, slots=True)
class Delivery:
    status: DeliveryStatus
    external_id: str | None = None
    error: str | None = None


class _Transient(Exception):
    """A failure worth retrying after a pause."""


class ReplySender:
    def __init__(
        self,
        bot: Bot,
        handler: ConversationHandler,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._bot = bot
        self._handler = handler
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._chats = KeyedLocks()

    async def send_all(self, replies: Iterable[Reply]) -> list[Delivery]:
        return [await self.send(reply) for reply in replies]

    async def resend(self, replies: Iterable[Reply]) -> None:
        """Send replies left undelivered, chats in parallel, each chat in order."""
        by_chat: dict[str, list[Reply]] = defaultdict(list)
        for reply in replies:
            by_chat[reply.chat_id].append(reply)
        await asyncio.gather(*(self.send_all(chat) for chat in by_chat.values()))

    async def send(self, reply: Reply) -> Delivery:
        async with self._chats.hold(reply.chat_id):
            delivery = await self._deliver(reply)
        if delivery.status is not DeliveryStatus.SENT:
            logger.warning(
                "Reply %s to chat %s: %s (%s)",
                reply.outbox_id, reply.chat_id, delivery.status, delivery.error,
            )  # fmt: skip
        await self._record(reply, delivery)
        return delivery

    async def _deliver(self, reply: Reply) -> Delivery:
        if reply.channel != Channel.TELEGRAM:
            return Delivery(DeliveryStatus.FAILED, error=f"not a Telegram reply: {reply.channel}")
        keyboard = self._keyboard(reply)
        chat_id = int(reply.chat_id) if reply.chat_id.lstrip("-").isdigit() else reply.chat_id
        sent: Message | None = None
        try:
            parts = split_text(reply.text)
            if not parts:
                return Delivery(DeliveryStatus.FAILED, error="empty text")
            for number, part in enumerate(parts, start=1):
                markup = keyboard if number == len(parts) else None
                sent = await self._send_part(chat_id, part, markup)
        except TelegramForbiddenError as error:
            return Delivery(DeliveryStatus.BLOCKED, error=error.message)
        except (AiogramError, _Transient) as error:
            return Delivery(DeliveryStatus.FAILED, error=f"{type(error).__name__}: {error}")
        except Exception as error:
            logger.exception("Unexpected failure sending to chat %s", reply.chat_id)
            return Delivery(DeliveryStatus.FAILED, error=f"{type(error).__name__}: {error}")
        assert sent is not None
        return Delivery(DeliveryStatus.SENT, external_id=str(sent.message_id))

    def _keyboard(self, reply: Reply) -> InlineKeyboardMarkup | None:
        try:
            return build_keyboard(reply.buttons)
        except CallbackDataError:
            # The citizen still gets the text; the broken button is a bug to fix upstream.
            logger.exception("Buttons of reply %s dropped", reply.outbox_id)
            return None

    async def _send_part(
        self, chat_id: int | str, text: str, markup: InlineKeyboardMarkup | None
    ) -> Message:
        failures = waits = 0
        while True:
            try:
                return await self._bot.send_message(
                    chat_id, text, parse_mode=None, reply_markup=markup
                )
            except TelegramRetryAfter as error:
                waits += 1
                if waits > self._policy.rate_limit_waits:
                    raise
                await self._sleep(error.retry_after)
            except TelegramEntityTooLarge:
                raise
            except (TelegramNetworkError, TelegramServerError, ClientDecodeError) as error:
                failures += 1
                if failures >= self._policy.attempts:
                    raise _Transient(f"gave up after {failures} attempts: {error}") from error
                await self._sleep(self._policy.backoff(failures))

    async def _record(self, reply: Reply, delivery: Delivery) -> None:
        if reply.outbox_id is None:
            return
        try:
            await self._handler.record_delivery(
                reply.outbox_id,
                delivery.status,
                external_id=delivery.external_id,
                error=delivery.error,
            )
        except Exception:
            logger.exception("Could not record delivery of reply %s", reply.outbox_id)
