"""Stored VK events as turns: map, ask the conversation service, wake the outbox."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from vkbottle.api import ABCAPI

from bots.conversation import ConversationHandler
from bots.vk.mappers import MalformedEvent, event_to_edit, event_to_message
from core.domain import IncomingMessage
from core.inbox import InboxItem, InboxStatus

log = logging.getLogger(__name__)

CHANNEL = "vk"
NAME_CACHE_SIZE = 10_000
KEY_LIMIT = 128


def event_key(event: Any) -> str:
    """The inbox key: VK's ``event_id``, or a digest of the event when it has none."""
    if isinstance(event, dict):
        event_id = event.get("event_id")
        if isinstance(event_id, str) and 0 < len(event_id) <= KEY_LIMIT:
            return event_id
    canonical = json.dumps(event, sort_keys=True, ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest()


def as_payload(event: Any) -> dict[str, Any]:
    return event if isinstance(event, dict) else {"raw": event}


class NameCache:
    """Citizens' names from ``users.get``, asked once per citizen; a failure is no name."""

    def __init__(self, api: ABCAPI) -> None:
        self._api = api
        self._names: dict[str, str] = {}

    async def name(self, user_id: str) -> str | None:
        if user_id in self._names:
            return self._names[user_id]
        try:
            users = await self._api.users.get(user_ids=[int(user_id)])
        except Exception as error:
            log.info("users.get for %s failed: %s", user_id, type(error).__name__)
            return None
        if not users:
            return None
        name = f"{users[0].first_name or ''} {users[0].last_name or ''}".strip()
        if len(self._names) >= NAME_CACHE_SIZE:
            self._names.pop(next(iter(self._names)))
        self._names[user_id] = name
        return name


class VkEvents:
    """The `bots.inbox.UpdateHandler` of VK: each stored event as a turn.

    Args:
        api: The VK API (names of citizens, answers to callback buttons).
        conversation: The conversation service.
        wake: Called with a peer id when replies for it were stored.
    """

    def __init__(
        self, *, api: ABCAPI, conversation: ConversationHandler, wake: Callable[[str], None]
    ) -> None:
        self._api = api
        self._conversation = conversation
        self._wake = wake
        self._names = NameCache(api)

    def chat_of(self, item: InboxItem) -> str:
        try:
            message = event_to_message(item.payload) or event_to_edit(item.payload)
        except MalformedEvent:
            message = None
        return message.chat_id if message is not None else "?"

    def message_of(self, item: InboxItem) -> IncomingMessage | None:
        try:
            return event_to_message(item.payload)
        except MalformedEvent:
            return None

    async def process(self, item: InboxItem) -> InboxStatus:
        try:
            message = event_to_message(item.payload)
            edit = event_to_edit(item.payload) if message is None else None
        except MalformedEvent as error:
            log.info("VK event id=%s ignored as malformed: %s", item.update_key, error)
            return InboxStatus.IGNORED
        if edit is not None:
            # The operators see the edit when the conversation is theirs; the bot does
            # not answer an edited message again.
            return InboxStatus.DONE if await self._conversation.edit(edit) else InboxStatus.IGNORED
        if message is None:
            return InboxStatus.IGNORED
        if item.payload.get("type") == "message_event":
            await self._answer_event(item.payload["object"])
        name = await self._names.name(message.user_id)
        if await self._conversation.handle(dataclasses.replace(message, display_name=name)):
            self._wake(message.chat_id)
        return InboxStatus.DONE

    async def _answer_event(self, obj: dict[str, Any]) -> None:
        """Stop the spinner on a callback button; the reply comes as a message."""
        try:
            await self._api.messages.send_message_event_answer(
                event_id=obj["event_id"], user_id=obj["user_id"], peer_id=obj["peer_id"]
            )
        except Exception as error:
            log.info("sendMessageEventAnswer failed: %s", type(error).__name__)
