"""Stored MAX updates as turns: map, ask the conversation service, wake the outbox."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from maxapi import Bot

from bots.conversation import ConversationHandler
from bots.max.mappers import (
    MalformedUpdate,
    callback_id,
    update_key,
    update_to_edit,
    update_to_message,
)
from core.domain import IncomingMessage
from core.inbox import InboxItem, InboxStatus

log = logging.getLogger(__name__)

CHANNEL = "max"


def inbox_key(update: Any) -> str:
    """The inbox key: what identifies the update (`update_key`), or a digest of it."""
    key = update_key(update)
    if key is not None:
        return key
    canonical = json.dumps(update, sort_keys=True, ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest()


def as_payload(update: Any) -> dict[str, Any]:
    return update if isinstance(update, dict) else {"raw": update}


class MaxEvents:
    """The `bots.inbox.UpdateHandler` of MAX: each stored update as a turn.

    Args:
        bot: The MAX client (answers to button presses).
        conversation: The conversation service.
        wake: Called with a chat id when replies for it were stored.
    """

    def __init__(
        self, *, bot: Bot, conversation: ConversationHandler, wake: Callable[[str], None]
    ) -> None:
        self._bot = bot
        self._conversation = conversation
        self._wake = wake

    def chat_of(self, item: InboxItem) -> str:
        try:
            message = update_to_message(item.payload) or update_to_edit(item.payload)
        except MalformedUpdate:
            message = None
        return message.chat_id if message is not None else "?"

    def message_of(self, item: InboxItem) -> IncomingMessage | None:
        try:
            return update_to_message(item.payload)
        except MalformedUpdate:
            return None

    async def process(self, item: InboxItem) -> InboxStatus:
        try:
            message = update_to_message(item.payload)
            edit = update_to_edit(item.payload) if message is None else None
        except MalformedUpdate as error:
            log.info("MAX update %s ignored as malformed: %s", item.update_key, error)
            return InboxStatus.IGNORED
        if edit is not None:
            return InboxStatus.DONE if await self._conversation.edit(edit) else InboxStatus.IGNORED
        if message is None:
            return InboxStatus.IGNORED
        found = callback_id(item.payload)
        if found is not None:
            await self._answer_callback(found)
        if await self._conversation.handle(message):
            self._wake(message.chat_id)
        return InboxStatus.DONE

    async def _answer_callback(self, found: str) -> None:
        """Stop the button's spinner; the reply comes as a message."""
        try:
            await self._bot.send_callback(callback_id=found, notification="Принято")
        except Exception as error:
            log.info("MAX: answering a callback failed: %s", type(error).__name__)
