"""How much one visitor and one address may send: sliding windows by key, forgotten once
they hold nothing (so a crowd of one-off visitors costs no memory for long)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from core.settings import Settings
from core.sliding_window import SlidingWindow

MINUTE = 60.0
PRUNE_EVERY = 1024  # checks between sweeps of idle windows


class RateLimiter:
    """At most ``limit`` events per key within any ``seconds``-long window."""

    def __init__(
        self, limit: int, seconds: float = MINUTE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._windows: dict[Hashable, SlidingWindow] = {}
        self._checks = 0

    def wait(self, key: Hashable) -> float:
        """Seconds until one more event of ``key`` fits; 0 when it fits now."""
        window = self._windows.get(key)
        return window.wait() if window is not None else 0.0

    def add(self, key: Hashable) -> None:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = SlidingWindow(self.limit, self.seconds, self._clock)
        window.add()
        self._checks += 1
        if self._checks % PRUNE_EVERY == 0:
            self._prune()

    def __len__(self) -> int:
        return len(self._windows)

    def _prune(self) -> None:
        for key in [key for key, window in self._windows.items() if window.idle()]:
            del self._windows[key]


@dataclass(frozen=True, slots=True)
class Refused:
    """A request over a limit: what the visitor reads and when to try again."""

    message: str
    retry_after: float


MESSAGES_TOO_FAST = (
    "Слишком много сообщений подряд. Подождите немного — через {wait} можно писать снова."
)
ADDRESS_TOO_FAST = (
    "С вашего адреса приходит слишком много сообщений. Попробуйте снова через {wait}."
)
TOKENS_TOO_FAST = (
    "С вашего адреса слишком часто начинают новые разговоры. Попробуйте снова через {wait}."
)


def in_words(seconds: float) -> str:
    """«40 секунд», «1 минуту»: how long to wait, in Russian."""
    whole = max(1, round(seconds))
    if whole >= 60:
        minutes = round(whole / 60)
        return f"{minutes} {_plural(minutes, 'минуту', 'минуты', 'минут')}"
    return f"{whole} {_plural(whole, 'секунду', 'секунды', 'секунд')}"


def _plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


class WidgetLimits:
    """The widget's limits per minute: messages per visitor and per address, new tokens
    per address. Uploads count as messages of their visitor."""

    def __init__(
        self,
        visitor: int,
        address: int,
        tokens: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.visitor = RateLimiter(visitor, MINUTE, clock)
        self.address = RateLimiter(address, MINUTE, clock)
        self.tokens = RateLimiter(tokens, MINUTE, clock)

    @classmethod
    def from_settings(cls, settings: Settings) -> WidgetLimits:
        return cls(settings.widget_visitor_rate, settings.widget_ip_rate,
                   settings.widget_token_rate)  # fmt: skip

    def message(self, visitor: str, address: str) -> Refused | None:
        """Count a message (or an upload) of ``visitor`` from ``address``, or refuse it
        (then nothing is counted)."""
        wait = self.visitor.wait(visitor)
        if wait > 0:
            return Refused(MESSAGES_TOO_FAST.format(wait=in_words(wait)), wait)
        wait = self.address.wait(address)
        if wait > 0:
            return Refused(ADDRESS_TOO_FAST.format(wait=in_words(wait)), wait)
        self.visitor.add(visitor)
        self.address.add(address)
        return None

    def new_token(self, address: str) -> Refused | None:
        """Count a new visitor from ``address``, or refuse it."""
        wait = self.tokens.wait(address)
        if wait > 0:
            return Refused(TOKENS_TOO_FAST.format(wait=in_words(wait)), wait)
        self.tokens.add(address)
        return None
