"""VK's limits on a community token: API calls a second, and how long ``random_id`` is
remembered by ``messages.send``."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]

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


class SlidingWindow:
    """At most ``limit`` events within any ``seconds``-long window."""

    def __init__(self, limit: int, seconds: float, clock: Clock) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._times: deque[float] = deque()

    def admit(self) -> bool:
        """Count one more event if it fits; False (and nothing counted) if it does not."""
        now = self._clock()
        while self._times and self._times[0] <= now - self.seconds:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True
