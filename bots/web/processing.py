"""Stored widget messages as turns: map, ask the conversation service, wake the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bots.conversation import ConversationHandler
from bots.web.mappers import MalformedUpdate, update_to_message
from core.domain import IncomingMessage
from core.inbox import InboxItem, InboxStatus

log = logging.getLogger(__name__)

CHANNEL = "web"


class WebEvents:
    """The `bots.inbox.UpdateHandler` of the widget.

    Args:
        conversation: The conversation service.
        wake: Called with a visitor's id when replies for them were stored.
    """

    def __init__(self, conversation: ConversationHandler, wake: Callable[[str], None]) -> None:
        self._conversation = conversation
        self._wake = wake

    def chat_of(self, item: InboxItem) -> str:
        visitor = item.payload.get("visitor") if isinstance(item.payload, dict) else None
        return visitor if isinstance(visitor, str) else "?"

    def message_of(self, item: InboxItem) -> IncomingMessage | None:
        try:
            return update_to_message(item.payload)
        except MalformedUpdate:
            return None

    async def process(self, item: InboxItem) -> InboxStatus:
        try:
            message = update_to_message(item.payload)
        except MalformedUpdate as error:
            log.info("widget update %s ignored as malformed: %s", item.update_key, error)
            return InboxStatus.IGNORED
        if await self._conversation.handle(message):
            self._wake(message.chat_id)
        return InboxStatus.DONE
