"""Handling stored updates: each in its own task, one chat at a time in arrival order,
and every update marked processed or failed in the inbox."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiogram.types.update import UpdateTypeLookupError
from pydantic import ValidationError

from bots.telegram.locks import KeyedLocks
from core.domain import Channel
from core.inbox import InboxItem, InboxRepository

logger = logging.getLogger(__name__)

CHANNEL = Channel.TELEGRAM.value
ALLOWED_UPDATES = ["message", "callback_query"]


class UpdateProcessor:
    def __init__(
        self, dispatcher: Dispatcher, bot: Bot, inbox: InboxRepository, concurrency: int = 16
    ) -> None:
        self._dispatcher = dispatcher
        self._bot = bot
        self._inbox = inbox
        self._chats = KeyedLocks()
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, item: InboxItem) -> asyncio.Task[None]:
        task = asyncio.create_task(self.process(item), name=f"telegram-update-{item.update_key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def recover(self) -> None:
        """Handle what an earlier run stored but did not finish, oldest first."""
        seen: set[int] = set()
        while True:
            items = [i for i in await self._inbox.unprocessed(CHANNEL) if i.id not in seen]
            if not items:
                return
            logger.info("Recovering %d stored Telegram update(s)", len(items))
            seen.update(item.id for item in items)
            await asyncio.gather(*(self.submit(item) for item in items))

    async def process(self, item: InboxItem) -> None:
        async with self._chats.hold(chat_key(item.payload)), self._slots:
            try:
                await self._handle(item)
            except Exception:
                # The inbox could not be updated; the update is retried at the next start.
                logger.exception("Update %s left unprocessed", item.update_key)

    async def drain(self, grace: float) -> None:
        """Let running updates finish for up to ``grace`` seconds, then cancel the rest;
        they stay unprocessed in the inbox and are handled at the next start."""
        tasks = set(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace) if grace > 0 else ((), tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, item: InboxItem) -> None:
        try:
            update = Update.model_validate(item.payload, context={"bot": self._bot})
            update.event_type  # noqa: B018 - raises for update types aiogram does not know
        except (ValidationError, UpdateTypeLookupError) as error:
            logger.warning("Update %s skipped as unusable: %.500s", item.update_key, error)
            await self._inbox.mark_processed(item.id)
            return
        try:
            await self._dispatcher.feed_update(self._bot, update)
        except Exception as error:
            logger.exception("Update %s failed", item.update_key)
            await self._inbox.mark_failed(item.id, f"{type(error).__name__}: {error}")
            return
        await self._inbox.mark_processed(item.id)


def chat_key(payload: Any) -> str:
    """The chat an update belongs to, read defensively from the raw payload."""
    try:
        for kind in ("message", "edited_message"):
            if isinstance(payload.get(kind), dict):
                return str(payload[kind]["chat"]["id"])
        query = payload.get("callback_query")
        if isinstance(query, dict):
            message = query.get("message")
            if isinstance(message, dict):
                return str(message["chat"]["id"])
            return str(query["from"]["id"])
    except (AttributeError, KeyError, TypeError):
        pass
    return "?"
