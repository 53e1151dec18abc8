"""A fake Telegram Bot API server for tests, benchmarks and local demos."""

from tools.fake_telegram.citizens import Citizen
from tools.fake_telegram.errors import ApiError
from tools.fake_telegram.limits import TELEGRAM_LIMITS, RateLimits
from tools.fake_telegram.server import DEFAULT_TOKEN, FakeTelegram
from tools.fake_telegram.state import RecordedRequest

__all__ = [
    "DEFAULT_TOKEN",
    "TELEGRAM_LIMITS",
    "ApiError",
    "Citizen",
    "FakeTelegram",
    "RateLimits",
    "RecordedRequest",
]
