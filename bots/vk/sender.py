"""Sending a reply's parts with ``messages.send``, and telling the outbox what VK
answered. Each part has a fixed ``random_id``, so a part sent again after a crash or a
lost answer is dropped by VK (within VK's deduplication window)."""

from __future__ import annotations

import aiohttp
from vkbottle import VKAPIError
from vkbottle.api import ABCAPI

from bots.outbox import RetryAfter, Unavailable, Undeliverable
from bots.text import VK_TEXT_LIMIT, split_text
from bots.vk.client import VkUnavailable
from bots.vk.keyboards import build_keyboard
from bots.vk.mappers import clean_text
from core.domain import Channel, DeliveryStatus, Reply

RATE_LIMITED = 6
FLOOD_CONTROL = 9  # too many similar messages: VK asks for a longer pause
SERVER_ERROR = 10
# 7: no permission; 901: the citizen has not allowed messages; 902: privacy settings.
BLOCKED_CODES = frozenset({7, 901, 902})
TRANSIENT_ERRORS = (aiohttp.ClientError, TimeoutError, VkUnavailable)
PARTS_PER_REPLY = 64
RANDOM_ID_SPACE = 2**31


def random_id_for(outbox_id: int, part: int) -> int:
    """The same reply part always gets the same ``random_id``, so VK drops a resend.

    Unique for the first 33 million outbox rows, far beyond VK's deduplication window.
    """
    return (outbox_id * PARTS_PER_REPLY + part) % (RANDOM_ID_SPACE - 1) + 1


class VkTransport:
    """The outbox's way of sending to VK."""

    channel = Channel.VK

    def __init__(self, api: ABCAPI) -> None:
        self._api = api

    def split(self, reply: Reply) -> list[str]:
        if not reply.chat_id.lstrip("-").isdigit():
            return []
        parts = split_text(clean_text(reply.text), VK_TEXT_LIMIT, length=len)
        return parts[:PARTS_PER_REPLY]

    async def send_part(self, reply: Reply, index: int, text: str, last: bool) -> str | None:
        assert reply.outbox_id is not None, "only stored replies are sent"
        try:
            message_id = await self._api.messages.send(
                peer_id=int(reply.chat_id),
                random_id=random_id_for(reply.outbox_id, index),
                message=text,
                keyboard=build_keyboard(reply.buttons) if last else None,
            )
        except VKAPIError as error:
            raise _classified(error) from error
        except TRANSIENT_ERRORS as error:
            raise Unavailable(f"VK unreachable: {type(error).__name__}") from error
        return str(message_id)


def _classified(error: VKAPIError) -> Exception:
    reason = f"VK error {error.code}: {error.error_msg}"
    if error.code == RATE_LIMITED:
        return RetryAfter(1.0, reason)
    if error.code == FLOOD_CONTROL:
        return RetryAfter(30.0, reason)
    if error.code == SERVER_ERROR:
        return Unavailable(reason)
    if error.code in BLOCKED_CODES:
        return Undeliverable(DeliveryStatus.BLOCKED, reason)
    return Undeliverable(DeliveryStatus.FAILED, reason)
