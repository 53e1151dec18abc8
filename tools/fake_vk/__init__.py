"""A fake VK API for tests, benchmarks and local demos: the methods our bot calls, the Bots
Long Poll server, a Callback API client, and controls to inject citizens' events and faults."""

from tools.fake_vk.limits import RANDOM_ID_WINDOW, VK_COMMUNITY_LIMIT, RateLimit
from tools.fake_vk.server import FakeVk
from tools.fake_vk.world import RecordedRequest, SentMessage, VkWorld

__all__ = [
    "RANDOM_ID_WINDOW",
    "VK_COMMUNITY_LIMIT",
    "FakeVk",
    "RateLimit",
    "RecordedRequest",
    "SentMessage",
    "VkWorld",
]
