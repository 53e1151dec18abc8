"""A fake VK API for tests, benchmarks and local demos: the methods our bot calls, the Bots
Long Poll server, a Callback API client, photo and document uploads (and the files
themselves), and controls to inject citizens' events and faults."""

from tools.fake_vk.limits import RANDOM_ID_WINDOW, VK_COMMUNITY_LIMIT, RateLimit
from tools.fake_vk.media import Doc, Photo
from tools.fake_vk.server import FakeVk
from tools.fake_vk.world import RecordedRequest, SentMessage, VkWorld

__all__ = [
    "RANDOM_ID_WINDOW",
    "VK_COMMUNITY_LIMIT",
    "Doc",
    "FakeVk",
    "Photo",
    "RateLimit",
    "RecordedRequest",
    "SentMessage",
    "VkWorld",
]
