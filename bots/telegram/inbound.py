"""Telegram's stored updates as turns: validate, feed to the dispatcher (the citizen
router runs the conversation service and wakes the outbox), and say what became of it."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import Update
from aiogram.types.update import UpdateTypeLookupError
from pydantic import ValidationError

from bots.telegram.mappers import map_update
from core.domain import Channel, IncomingMessage
from core.inbox import InboxItem, InboxStatus

logger = logging.getLogger(__name__)

CHANNEL = Channel.TELEGRAM.value
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


class Unusable(ValueError):
    """An update aiogram cannot read; it says what is wrong without quoting the update."""


class TelegramUpdates:
    """The `bots.inbox.UpdateHandler` of Telegram."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot) -> None:
        self._dispatcher = dispatcher
        self._bot = bot

    def chat_of(self, item: InboxItem) -> str:
        return chat_key(item.payload)

    def message_of(self, item: InboxItem) -> IncomingMessage | None:
        try:
            return map_update(self._validate(item))
        except Unusable:
            return None

    async def process(self, item: InboxItem) -> InboxStatus:
        try:
            update = self._validate(item)
        except Unusable as error:
            logger.info("update_id=%s ignored as unusable: %s", item.update_key, error)
            return InboxStatus.IGNORED
        result = await self._dispatcher.feed_update(self._bot, update)
        return InboxStatus.IGNORED if result is UNHANDLED else InboxStatus.DONE

    def _validate(self, item: InboxItem) -> Update:
        try:
            update = Update.model_validate(item.payload, context={"bot": self._bot})
            update.event_type  # noqa: B018 - raises for update types aiogram does not know
        except ValidationError as error:
            # Only where and what kind: the values are the citizen's words and names.
            where = sorted({".".join(map(str, e["loc"][:3])) for e in error.errors()})[:5]
            raise Unusable(f"{error.error_count()} validation error(s) at {where}") from None
        except UpdateTypeLookupError:
            raise Unusable("an update type the bot does not know") from None
        return update


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


def update_id(raw: Any) -> int | None:
    """The update's id, None when it has none (or not an integer)."""
    value = raw.get("update_id") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
