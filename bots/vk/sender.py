"""Delivers `Reply` objects with ``messages.send`` and reports what happened to each."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from vkbottle import VKAPIError
from vkbottle.api import ABCAPI

from bots.conversation import ConversationHandler
from bots.text import VK_TEXT_LIMIT, split_text
from bots.vk.client import VkUnavailable
from bots.vk.keyboards import build_keyboard
from bots.vk.mappers import clean_text
from core.domain import DeliveryStatus, Reply

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

RATE_LIMITED = 6
# 7: no permission; 901: the citizen has not allowed messages; 902: privacy settings.
BLOCKED_CODES = frozenset({7, 901, 902})
TRANSIENT_ERRORS = (aiohttp.ClientError, TimeoutError, VkUnavailable)
PARTS_PER_REPLY = 64
RANDOM_ID_SPACE = 2**31


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.base_delay * 2**attempt, self.max_delay)


def random_id_for(outbox_id: int, part: int) -> int:
    """The same reply part always gets the same ``random_id``, so VK drops a resend.

    Unique for the first 33 million outbox rows, far beyond VK's deduplication window.
    """
    return (outbox_id * PARTS_PER_REPLY + part) % (RANDOM_ID_SPACE - 1) + 1


class PeerLocks:
    """One lock per peer, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, peer: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(peer, (asyncio.Lock(), 0))
        self._locks[peer] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[peer]
            if users == 1:
                del self._locks[peer]
            else:
                self._locks[peer] = (lock, users - 1)


class VkSender:
    def __init__(
        self,
        api: ABCAPI,
        handler: ConversationHandler,
        *,
        sleep: Sleep = asyncio.sleep,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._api = api
        self._handler = handler
        self._sleep = sleep
        self._policy = policy or RetryPolicy()
        self._locks = PeerLocks()

    async def deliver(self, reply: Reply) -> DeliveryStatus:
        """Send one reply (in parts when long); never raises for VK's or the network's faults."""
        async with self._locks.hold(reply.chat_id):
            status, external_id, error = await self._send(reply)
        if status is not DeliveryStatus.SENT:
            log.warning(
                "VK reply %s to %s: %s (%s)", reply.outbox_id, reply.chat_id, status, error
            )
        if reply.outbox_id is not None:
            try:
                await self._handler.record_delivery(
                    reply.outbox_id, status, external_id=external_id, error=error
                )
            except Exception:
                log.exception("could not record the delivery of outbox %s", reply.outbox_id)
        return status

    async def _send(self, reply: Reply) -> tuple[DeliveryStatus, str | None, str | None]:
        parts = split_text(clean_text(reply.text), VK_TEXT_LIMIT, length=len)[:PARTS_PER_REPLY]
        if not parts or not reply.chat_id.lstrip("-").isdigit():
            return DeliveryStatus.FAILED, None, "nothing to send or no VK peer id"
        base = reply.outbox_id if reply.outbox_id is not None else secrets.randbelow(2**24)
        keyboard = build_keyboard(reply.buttons)
        message_id = 0
        try:
            for index, text in enumerate(parts):
                last = index == len(parts) - 1
                message_id = await self._send_part(
                    int(reply.chat_id),
                    text,
                    keyboard if last else None,
                    random_id_for(base, index),
                )
        except VKAPIError as error:
            status = (
                DeliveryStatus.BLOCKED if error.code in BLOCKED_CODES else DeliveryStatus.FAILED
            )
            return status, None, f"VK error {error.code}: {error.error_msg}"
        except TRANSIENT_ERRORS as error:
            return DeliveryStatus.FAILED, None, f"VK unreachable: {error!r}"
        except Exception as error:
            log.exception("VK reply %s could not be sent", reply.outbox_id)
            return DeliveryStatus.FAILED, None, repr(error)
        return DeliveryStatus.SENT, str(message_id), None

    async def _send_part(
        self, peer_id: int, text: str, keyboard: str | None, random_id: int
    ) -> int:
        attempt = 0
        while True:
            try:
                return await self._api.messages.send(
                    peer_id=peer_id, random_id=random_id, message=text, keyboard=keyboard
                )
            except VKAPIError as error:
                if error.code != RATE_LIMITED or attempt + 1 >= self._policy.attempts:
                    raise
            except TRANSIENT_ERRORS:
                if attempt + 1 >= self._policy.attempts:
                    raise
            await self._sleep(self._policy.delay(attempt))
            attempt += 1
