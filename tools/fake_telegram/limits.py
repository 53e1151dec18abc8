"""Telegram's flood control for messages a bot sends, enforced over sliding windows.

Telegram states the limits only approximately: about 30 messages a second overall and about
20 a minute into one group. The fake takes those figures literally, so a bot that keeps
within them here has a margin left against the real server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.sliding_window import Clock, SlidingWindow
from tools.fake_telegram.errors import too_many_requests

# Every method that puts a message into a chat; the fake implements only some of them, the
# others answer 404 before the limits are looked at.
SENDING_METHODS = frozenset(
    name.lower()
    for name in (
        "sendMessage", "copyMessage", "copyMessages", "forwardMessage", "forwardMessages",
        "sendPhoto", "sendAudio", "sendDocument", "sendVideo", "sendAnimation", "sendVoice",
        "sendVideoNote", "sendMediaGroup", "sendLocation", "sendVenue", "sendContact",
        "sendPoll", "sendDice", "sendSticker", "sendPaidMedia", "sendInvoice", "sendGame",
        # A new topic posts its service message into the group.
        "createForumTopic",
    )
)  # fmt: skip
GROUP_TYPES = frozenset({"group", "supergroup"})


@dataclass(frozen=True, slots=True)
class RateLimits:
    """How many messages fit into a window; ``FakeTelegram(rate_limits=None)`` lifts them."""

    overall: int = 30
    overall_window: float = 1.0
    per_group: int = 20
    group_window: float = 60.0


TELEGRAM_LIMITS = RateLimits()


class FloodControl:
    """Refuses a message with 429 when it would break a limit; counts the ones sent."""

    def __init__(self, limits: RateLimits, chats: dict[int, dict[str, Any]], clock: Clock) -> None:
        self.limits = limits
        self._chats = chats
        self._clock = clock
        self._overall = SlidingWindow(limits.overall, limits.overall_window, clock)
        self._groups: dict[int, SlidingWindow] = {}

    def check(self, chat_id: Any) -> None:
        """Raise the 429 Telegram answers when a message to ``chat_id`` is one too many."""
        wait = self._overall.wait()
        group = self._group(chat_id)
        if group is not None:
            wait = max(wait, group.wait())
        if wait > 0:
            # Telegram names whole seconds; rounding up keeps the promise honest.
            raise too_many_requests(max(1, math.ceil(wait)))

    def count(self, chat_id: Any) -> None:
        self._overall.add()
        group = self._group(chat_id)
        if group is not None:
            group.add()

    def _group(self, chat_id: Any) -> SlidingWindow | None:
        if not isinstance(chat_id, int) or isinstance(chat_id, bool):
            return None
        chat = self._chats.get(chat_id)
        is_group = chat["type"] in GROUP_TYPES if chat is not None else chat_id < 0
        if not is_group:
            return None
        if chat_id not in self._groups:
            self._groups[chat_id] = SlidingWindow(
                self.limits.per_group, self.limits.group_window, self._clock
            )
        return self._groups[chat_id]
