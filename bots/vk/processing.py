"""Handles stored VK events: map, ask the conversation handler, deliver, mark in the inbox."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
from typing import Any

from vkbottle.api import ABCAPI

from bots.conversation import ConversationHandler
from bots.vk.mappers import MalformedEvent, event_to_message
from bots.vk.sender import PeerLocks, VkSender
from core.inbox import InboxItem, InboxRepository

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
            log.info("users.get for %s failed: %r", user_id, error)
            return None
        if not users:
            return None
        name = f"{users[0].first_name or ''} {users[0].last_name or ''}".strip()
        if len(self._names) >= NAME_CACHE_SIZE:
            self._names.pop(next(iter(self._names)))
        self._names[user_id] = name
        return name


class VkEventProcessor:
    """Runs each stored event as its own task; one citizen's events one after another."""

    def __init__(
        self,
        *,
        api: ABCAPI,
        handler: ConversationHandler,
        sender: VkSender,
        inbox: InboxRepository,
    ) -> None:
        self._api = api
        self._handler = handler
        self._sender = sender
        self._inbox = inbox
        self._names = NameCache(api)
        self._locks = PeerLocks()
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, item: InboxItem) -> None:
        task = asyncio.get_running_loop().create_task(self._run(item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, grace: float = 10.0) -> None:
        """Let running events finish for up to ``grace`` seconds, then cancel the rest
        (they stay unprocessed in the inbox and are handled at the next start)."""
        if not self._tasks:
            return
        await asyncio.wait(set(self._tasks), timeout=grace)
        await self.abort()

    async def abort(self) -> None:
        """Cancel whatever is still running; it stays unprocessed in the inbox."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, item: InboxItem) -> None:
        try:
            await self.process(item)
        except Exception:
            log.exception("VK event %s was not handled", item.update_key)

    async def process(self, item: InboxItem) -> None:
        try:
            message = event_to_message(item.payload)
        except MalformedEvent as error:
            log.warning("VK event %s is malformed: %s", item.update_key, error)
            message = None
        if message is None:
            await self._inbox.mark_processed(item.id)
            return
        async with self._locks.hold(message.chat_id):
            if item.payload.get("type") == "message_event":
                await self._answer_event(item.payload["object"])
            name = await self._names.name(message.user_id)
            message = dataclasses.replace(message, display_name=name)
            try:
                replies = await self._handler.handle(message)
            except Exception as error:
                log.exception("the conversation handler failed on VK event %s", item.update_key)
                await self._inbox.mark_failed(item.id, repr(error))
                return
            for reply in replies:
                await self._sender.deliver(reply)
        await self._inbox.mark_processed(item.id)

    async def _answer_event(self, obj: dict[str, Any]) -> None:
        """Stop the spinner on a callback button; the reply comes as a message."""
        try:
            await self._api.messages.send_message_event_answer(
                event_id=obj["event_id"], user_id=obj["user_id"], peer_id=obj["peer_id"]
            )
        except Exception as error:
            log.info("sendMessageEventAnswer failed: %r", error)
