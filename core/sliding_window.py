"""At most so many events within any window of so many seconds: the platforms' flood
limits, as the fakes enforce them and as the senders keep under them."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]


class SlidingWindow:
    """At most ``limit`` events within any ``seconds``-long window."""

    def __init__(self, limit: int, seconds: float, clock: Clock) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._times: deque[float] = deque()

    def wait(self) -> float:
        """Seconds until one more event fits; 0 when it fits now."""
        now = self._clock()
        while self._times and self._times[0] <= now - self.seconds:
            self._times.popleft()
        if len(self._times) < self.limit:
            return 0.0
        return self._times[-self.limit] + self.seconds - now

    def idle(self) -> bool:
        """Whether every event has left the window (it can be forgotten)."""
        self.wait()
        return not self._times

    def add(self) -> None:
        self._times.append(self._clock())

    def admit(self) -> bool:
        """Count one more event if it fits; False (and nothing counted) if it does not."""
        if self.wait() > 0:
            return False
        self.add()
        return True
