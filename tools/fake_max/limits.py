"""MAX's limits on a bot, as the fake enforces them (see /work/shared/docs/PLATFORMS.md).

About 30 requests a second per bot; ``GET /updates`` is limited on its own to 2 requests a
second (since May 2026), holds a request at most 30 s and returns at most 100 events, and
events are kept 24 hours. A request refused with 429 is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.sliding_window import Clock, SlidingWindow

__all__ = [
    "BUTTON_TEXT_LIMIT",
    "CALLBACK_PAYLOAD_LIMIT",
    "DEEP_LINK_PAYLOAD_LIMIT",
    "KEYBOARD_BUTTONS",
    "KEYBOARD_ROWS",
    "KEYBOARD_ROW_WIDTH",
    "LINK_URL_LIMIT",
    "MAX_LIMITS",
    "TEXT_LIMIT",
    "UPDATES_BATCH",
    "UPDATES_MAX_HOLD",
    "UPDATES_RETENTION",
    "Clock",
    "RateLimits",
    "SlidingWindow",
]

TEXT_LIMIT = 4000
KEYBOARD_ROWS = 30
KEYBOARD_ROW_WIDTH = 7
KEYBOARD_BUTTONS = KEYBOARD_ROWS * KEYBOARD_ROW_WIDTH
BUTTON_TEXT_LIMIT = 128  # the schema's Button.text maxLength
CALLBACK_PAYLOAD_LIMIT = 1024  # CallbackButton.payload maxLength
LINK_URL_LIMIT = 2048
DEEP_LINK_PAYLOAD_LIMIT = 128  # longer start payloads are dropped, not passed to the bot
UPDATES_BATCH = 100
UPDATES_MAX_HOLD = 30.0
UPDATES_RETENTION = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class RateLimits:
    """At most ``requests`` API calls (other than ``GET /updates``) within any ``window``
    seconds, and at most ``updates`` long polls within any ``updates_window``;
    ``FakeMax(rate_limits=None)`` lifts both."""

    requests: int = 30
    window: float = 1.0
    updates: int = 2
    updates_window: float = 1.0


MAX_LIMITS = RateLimits()
