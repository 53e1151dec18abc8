"""VK's limits on a community token: API calls a second, and how long ``random_id`` is
remembered by ``messages.send``."""

from __future__ import annotations

from dataclasses import dataclass

from core.sliding_window import Clock, SlidingWindow

__all__ = ["RANDOM_ID_WINDOW", "VK_COMMUNITY_LIMIT", "Clock", "RateLimit", "SlidingWindow"]

# VK documents that a repeated random_id is not sent again but not for how long it is
# remembered; an hour is our assumption. A retry after the window sends a second message.
RANDOM_ID_WINDOW = 3600.0


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``calls`` API method calls within any ``window`` seconds (long polls are not
    API calls); ``FakeVk(rate_limit=None)`` lifts it."""

    calls: int = 20
    window: float = 1.0


VK_COMMUNITY_LIMIT = RateLimit()
